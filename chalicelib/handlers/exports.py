"""The exporter: writes a requested export's file to the exports bucket."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.entrypoints import Message, Queue, consumer

bp = Blueprint(__name__)

# The longest export run Lambda allows; an export that needs more is to be split by kind.
EXPORT_TIMEOUT = 900
# Takes the internal `export.requested` from the fan-out topic. The visibility timeout is
# six times the function's, as AWS advises for SQS event sources; the run's lease
# (CUSTOS_EXPORT_LEASE_SECONDS) outlasts the function, so a message handed out again while
# a run still writes finds the export held and comes back later.
EXPORT_REQUESTS = Queue(
    logical_id="ExportRequests",
    env_var="CUSTOS_EXPORT_REQUESTS_QUEUE_URL",
    visibility_timeout_seconds=6 * EXPORT_TIMEOUT,
    subscribes_to=("export.requested",),
)


def _requested_example() -> dict[str, Any]:
    return {
        "id": "evt_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
        "type": "export.requested",
        "tenant_id": "",
        "data": {
            "id": "exp_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
            "kind": "inventory",
            "format": "csv",
            "status": "queued",
            "requested_by": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
            "created_at": "2026-12-01T09:00:00.000Z",
        },
    }


@consumer(
    bp,
    function="run_export",
    queue_decl=EXPORT_REQUESTS,
    part=SystemPart.EXPORTER,
    # One export a run: each may stream a large file, and a batch shares one timeout.
    batch_size=1,
    timeout_seconds=EXPORT_TIMEOUT,
    example=_requested_example,
)
def run_export(actor: Actor, message: Message) -> None:
    """Write the export's file once and record its rows, size and SHA-256."""
    from chalicelib.services import exports

    exports.run(actor, message, EXPORT_REQUESTS.max_receive_count)
