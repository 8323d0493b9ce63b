"""Sending to Custos's own work queues (never on a request path: requests leave their
work in the outbox)."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.bootstrap import client
from chalicelib.store.aws_errors import is_transient, unavailable

BATCH = 10  # SendMessageBatch takes ten entries
# SendMessageBatch answers 200 with some entries refused; botocore does not retry those, so
# they are sent again here, after a short pause, before the caller's message is failed.
ATTEMPTS = 3
PAUSE_SECONDS = 0.05  # doubled after each attempt
MAX_DELAY_SECONDS = 900  # SQS delays stop at 15 minutes


class SendError(Exception):
    """Some messages were not accepted; the caller's message should come back to retry."""


def send(queue_url: str, messages: list[tuple[dict[str, Any], int]]) -> None:
    """Send (body, delay in seconds) messages, ten per SendMessageBatch; entries SQS
    refuses on its side are sent again, up to `ATTEMPTS` times in all."""
    for start in range(0, len(messages), BATCH):
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps(body, separators=(",", ":")),
                "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, delay)),
            }
            for index, (body, delay) in enumerate(messages[start : start + BATCH])
        ]
        _send_batch(queue_url, entries)


def _send_batch(queue_url: str, entries: list[dict[str, Any]]) -> None:
    refused: list[dict[str, Any]] = []
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(PAUSE_SECONDS * 2 ** (attempt - 1))
        try:
            answer = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        except ClientError as exc:
            if is_transient(exc):
                raise unavailable(exc) from exc
            raise
        refused = list(answer.get("Failed") or [])
        if not refused:
            return
        if any(failure.get("SenderFault") for failure in refused):
            break  # ours to fix: sending again cannot help
        again = {str(failure.get("Id")) for failure in refused}
        entries = [entry for entry in entries if entry["Id"] in again]
    raise SendError(f"{len(refused)} messages were not accepted")
