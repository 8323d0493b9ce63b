"""The outbox relay: committed outbox items, read from the table's stream, go to SQS.

Delivery is at least once: a failed send fails the batch so Lambda retries it,
and consumers de-duplicate by the event id.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.store import keys, queues

SQS_BATCH = 10


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
    """Send the batch's outbox events to the domain-events queue."""
    envelopes = outbox_envelopes(records)
    for start in range(0, len(envelopes), SQS_BATCH):
        chunk = envelopes[start : start + SQS_BATCH]
        queues.send_events([(json.loads(e)["id"], e, json.loads(e)["type"]) for e in chunk])
    return {"relayed": len(envelopes)}
