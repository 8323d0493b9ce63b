"""Compliance scans: the nightly start of every tenant's scan, and the scan of one tenant."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.entrypoints import LAMBDA_MAX_TIMEOUT, Message, Queue, consumer, schedule

bp = Blueprint(__name__)

# One message per tenant: from the schedule directly, and from the fan-out when someone
# asks for a scan (the internal `compliance_scan.requested`). A scan may run up to Lambda's
# 15 minutes; one that fails comes back a little after, alone, and goes to the dead-letter
# queue after five tries.
COMPLIANCE_SCANS = Queue(
    logical_id="ComplianceScans",
    env_var="CUSTOS_COMPLIANCE_SCANS_QUEUE_URL",
    visibility_timeout_seconds=LAMBDA_MAX_TIMEOUT + 60,
    subscribes_to=("compliance_scan.",),
)


def _example() -> dict[str, Any]:
    return {
        "type": "compliance_scan.requested",
        "tenant_id": "",
        "created_at": "2026-12-01T02:00:00.000Z",
        "data": {"scan_id": "scn_01JDQ4W9V3N8Y6Z5X2K7M1P0RS", "trigger": "schedule"},
    }


@schedule(
    bp,
    function="start_compliance_scans",
    expression="cron(0 2 * * ? *)",
    part=SystemPart.SCAN,
    local_seconds=120,
)
def start_compliance_scans(actor: Actor) -> dict[str, int]:
    """Send one scan message per active tenant."""
    from chalicelib.config import settings
    from chalicelib.services import compliance

    return compliance.start_all(actor, settings().scans_queue_url)


@consumer(
    bp,
    function="scan_tenant",
    queue_decl=COMPLIANCE_SCANS,
    part=SystemPart.SCAN,
    # One tenant a run, so a failure retries that tenant alone.
    batch_size=1,
    timeout_seconds=LAMBDA_MAX_TIMEOUT,
    example=_example,
    concurrency=5,
)
def scan_tenant(actor: Actor, message: Message) -> None:
    """Scan the tenant the message names, as the scan it names."""
    from chalicelib.services import compliance

    compliance.run_from(actor, message.body)
