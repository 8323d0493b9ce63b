"""Sending to Custos's own work queues (never on a request path: requests leave their
work in the outbox)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.bootstrap import client
from chalicelib.store.aws_errors import is_transient, unavailable

BATCH = 10  # SendMessageBatch takes ten entries
MAX_DELAY_SECONDS = 900  # SQS delays stop at 15 minutes


class SendError(Exception):
    """Some messages were not accepted; the caller's message should come back to retry."""


def send(queue_url: str, messages: list[tuple[dict[str, Any], int]]) -> None:
    """Send (body, delay in seconds) messages, ten per SendMessageBatch."""
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        entries = [
            {
                "Id": str(index),
                "MessageBody": json.dumps(body, separators=(",", ":")),
                "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, delay)),
            }
            for index, (body, delay) in enumerate(chunk)
        ]
        try:
            answer = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        except ClientError as exc:
            if is_transient(exc):
                raise unavailable(exc) from exc
            raise
        if answer.get("Failed"):
            raise SendError(f"{len(answer['Failed'])} of {len(entries)} messages not accepted")
