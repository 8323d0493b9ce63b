"""The fan-out point: domain events are published once, to one SNS topic.

Each consumer (the workflow starter, webhook delivery, notifications) reads its own SQS
queue, subscribed to the topic with a filter on the `event_type` attribute, so a slow
consumer holds up no other and each has its own dead-letter queue.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.bootstrap import client
from chalicelib.config import settings
from chalicelib.store.aws_errors import is_transient, unavailable

# PublishBatch answers 200 with some entries refused; botocore does not retry those, so
# the refused ones are sent again here (as SNS advises), after a short pause, before the
# batch is given up: failing it would have Lambda publish the whole stream batch again.
ATTEMPTS = 3
PAUSE_SECONDS = 0.05  # doubled after each attempt


class PublishError(Exception):
    """Some events of a batch were not accepted; the caller should retry the batch."""


def publish(events: list[tuple[str, str, str]]) -> None:
    """Publish (event id, envelope, event type) in one PublishBatch (at most 10); entries
    SNS refuses on its side are sent again, up to `ATTEMPTS` times in all."""
    if not events:
        return
    entries: list[dict[str, Any]] = [
        {
            "Id": str(index),
            "Message": body,
            "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": kind}},
        }
        for index, (_event_id, body, kind) in enumerate(events)
    ]
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(PAUSE_SECONDS * 2 ** (attempt - 1))
        refused = _send(entries)
        if not refused:
            return
        if any(failure.get("SenderFault") for failure in refused):
            break  # ours to fix (too large, malformed): sending again cannot help
        again = {str(failure.get("Id")) for failure in refused}
        entries = [entry for entry in entries if entry["Id"] in again]
    raise PublishError(f"{len(refused)} events were not accepted")


def _send(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One PublishBatch; returns the entries SNS did not accept."""
    try:
        answer = client("sns").publish_batch(
            TopicArn=settings().events_topic_arn, PublishBatchRequestEntries=entries
        )
    except Exception as exc:
        if is_transient(exc):
            raise unavailable(exc) from exc
        raise
    return list(answer.get("Failed") or [])
