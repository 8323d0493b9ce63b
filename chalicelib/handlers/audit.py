"""The audit chain's schedules: nightly verification of every tenant's chain, and hourly
anchoring of each tenant's chain head to S3 under Object Lock (one message per tenant)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.entrypoints import Message, Queue, consumer, schedule

bp = Blueprint(__name__)


@schedule(
    bp, function="verify_audit_chains", expression="cron(30 3 * * ? *)", part=SystemPart.SCHEDULER
)
def verify_audit_chains(actor: Actor) -> dict[str, Any]:
    """Verify each tenant's chain from its checkpoint; a broken chain is logged as an error
    and counted in the run's record."""
    from chalicelib.services import audit

    return audit.verify_every_tenant(actor)


# One message per tenant: a slow or failing tenant holds up no other, and comes back alone.
ANCHOR_TIMEOUT = 60
AUDIT_ANCHORS = Queue(
    logical_id="AuditAnchors",
    env_var="CUSTOS_AUDIT_ANCHORS_QUEUE_URL",
    visibility_timeout_seconds=6 * ANCHOR_TIMEOUT,
)


@schedule(bp, function="anchor_audit_chains", expression="rate(1 hour)", part=SystemPart.SCHEDULER)
def anchor_audit_chains(actor: Actor) -> dict[str, int]:
    """Queue one anchoring message per tenant."""
    from chalicelib.services import anchors

    return anchors.fan_out(actor)


def _anchor_example() -> dict[str, Any]:
    return {"tenant_id": ""}


@consumer(
    bp,
    function="anchor_audit_chain",
    queue_decl=AUDIT_ANCHORS,
    part=SystemPart.SCHEDULER,
    batch_size=1,
    timeout_seconds=ANCHOR_TIMEOUT,
    example=_anchor_example,
    concurrency=4,
)
def anchor_audit_chain(actor: Actor, message: Message) -> None:
    """Anchor one tenant's chain head to S3 under Object Lock, unless it has not moved."""
    from chalicelib.services import anchors

    anchors.anchor_message(actor, message)
