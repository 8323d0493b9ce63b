"""The fan-out point: domain events are published once, to one SNS topic.

Each consumer (the workflow starter, webhook delivery, notifications) reads its own SQS
queue, subscribed to the topic with a filter on the `event_type` attribute, so a slow
consumer holds up no other and each has its own dead-letter queue.
"""

from __future__ import annotations

from chalicelib.bootstrap import client
from chalicelib.config import settings
from chalicelib.store.aws_errors import is_transient, unavailable


class PublishError(Exception):
    """Some events of a batch were not accepted; the caller should retry the batch."""


def publish(events: list[tuple[str, str, str]]) -> None:
    """Publish (event id, envelope, event type) in one PublishBatch (at most 10)."""
    if not events:
        return
    entries = [
        {
            "Id": str(index),
            "Message": body,
            "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": kind}},
        }
        for index, (_event_id, body, kind) in enumerate(events)
    ]
    try:
        answer = client("sns").publish_batch(
            TopicArn=settings().events_topic_arn, PublishBatchRequestEntries=entries
        )
    except Exception as exc:
        if is_transient(exc):
            raise unavailable(exc) from exc
        raise
    if answer.get("Failed"):
        raise PublishError(f"{len(answer['Failed'])} events were not accepted")
