"""Nightly verification of every tenant's audit chain."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.entrypoints import schedule

bp = Blueprint(__name__)


@schedule(
    bp, function="verify_audit_chains", expression="cron(30 3 * * ? *)", part=SystemPart.SCHEDULER
)
def verify_audit_chains(actor: Actor) -> dict[str, Any]:
    """Verify each tenant's chain from its checkpoint; a broken chain is logged as an error
    and counted in the run's record."""
    from chalicelib.services import audit

    return audit.verify_every_tenant(actor)
