"""SQS access for the domain-events queue."""

from __future__ import annotations

from chalicelib.bootstrap import client
from chalicelib.config import settings


class QueueSendError(Exception):
    """Some messages of a batch were not accepted; the caller should retry the batch."""


def send_events(messages: list[tuple[str, str, str]]) -> None:
    """Send (event id, body, event type) messages in one SendMessageBatch (at most 10)."""
    if not messages:
        return
    entries = [
        {
            "Id": str(index),
            "MessageBody": body,
            "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": kind}},
        }
        for index, (_event_id, body, kind) in enumerate(messages)
    ]
    answer = client("sqs").send_message_batch(QueueUrl=settings().events_queue_url, Entries=entries)
    if answer.get("Failed"):
        raise QueueSendError(f"{len(answer['Failed'])} events were not accepted")
