"""The outbox relay: the table's stream to the fan-out topic."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.entrypoints import stream_consumer
from chalicelib.store.keys import OUTBOX_PREFIX

bp = Blueprint(__name__)


@stream_consumer(
    bp,
    function="outbox_relay",
    table="Main",
    part=SystemPart.RELAY,
    event_names=("INSERT",),
    sort_key_prefix=OUTBOX_PREFIX,
)
def outbox_relay(actor: Actor, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Publish the committed outbox events of a stream batch."""
    from chalicelib.services.relay import relay_stream_records

    return relay_stream_records(records)
