"""The outbox relay: committed outbox items, read from the table's stream, are published
to the fan-out topic.

Delivery is at least once: a failed publish fails the batch so Lambda retries it (and, once
its retries are spent, records the batch on the relay's failure queue, which
`python -m infra.replay` re-sends); consumers de-duplicate by the event id.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.store import fanout, keys

PUBLISH_BATCH = 10
# SNS (and the SQS queues behind it) take 256 KiB per message and per batch; keep room for
# the message attributes.
MAX_MESSAGE_BYTES = 240_000
MAX_BATCH_BYTES = 250_000


def outbox_envelopes(records: list[dict[str, Any]]) -> list[str]:
    """The event envelopes of the outbox items a stream batch inserted."""
    envelopes = []
    for record in records:
        if record.get("eventName") != "INSERT":
            continue
        image = record.get("dynamodb", {}).get("NewImage", {})
        if not image.get("sk", {}).get("S", "").startswith(keys.OUTBOX_PREFIX):
            continue
        envelope = image.get("envelope", {}).get("S")
        if envelope:
            envelopes.append(envelope)
    return envelopes


def relay_stream_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Publish the batch's outbox events to the fan-out topic."""
    envelopes = [_fitted(e) for e in outbox_envelopes(records)]
    for batch in _batches(envelopes):
        fanout.publish([(json.loads(e)["id"], e, json.loads(e)["type"]) for e in batch])
    return {"relayed": len(envelopes)}


def _fitted(envelope: str) -> str:
    """The envelope, or a pointer to its subject when it would not fit in one SQS message.

    Consumers then read the subject through the API; the event id and type stay."""
    if len(envelope.encode()) <= MAX_MESSAGE_BYTES:
        return envelope
    event = json.loads(envelope)
    data = event.get("data") or {}
    event["data"] = {"id": data.get("id"), "truncated": True}
    return json.dumps(event, separators=(",", ":"))


def _batches(envelopes: list[str]) -> list[list[str]]:
    """Batches of at most 10 messages and MAX_BATCH_BYTES, as PublishBatch allows."""
    batches: list[list[str]] = []
    size = 0
    for envelope in envelopes:
        length = len(envelope.encode())
        if not batches or len(batches[-1]) == PUBLISH_BATCH or size + length > MAX_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(envelope)
        size += length
    return batches
