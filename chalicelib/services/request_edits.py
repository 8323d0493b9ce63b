"""Edits of an approval request that add to it rather than decide it (evidence, comments):
read the request and its model, apply the change, commit it conditioned on the revision
read, audited as the event it announces; read again when a concurrent change (a decision,
the workflow) got in first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import ApprovalRequest
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import Model
from chalicelib.errors import NotFoundError, TransientConflictError
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore
from chalicelib.store.unit import RetryError, UnitOfWork

ATTEMPTS = 10
# A change made: the request as it becomes, what its audit entry records, its event.
Changed = tuple[ApprovalRequest, dict[str, Any], events.DomainEvent]
Change = Callable[[ApprovalRequest, Model, str], Changed]


class Unchanged(Exception):
    """Raised by a change that finds nothing to do (a verified file completed again)."""


def edit(
    store: TenantStore,
    actor: Actor,
    request_id: str,
    change: Change,
    claim: Claim | None = None,
) -> ApprovalRequest:
    """Apply `change` to the request (see the module docstring); the request as it became."""
    if not is_id(request_id, "approval_request"):
        raise NotFoundError(f"no approval request {request_id}")
    for _ in range(ATTEMPTS):
        item = store.approvals.get(request_id)
        if item is None:
            raise NotFoundError(f"no approval request {request_id}")
        request = to_model(ApprovalRequest, item)
        model = store.inventory.get_model(request.model_id)
        if model is None:
            raise NotFoundError(f"no model {request.model_id}")
        updated, after, event = change(request, to_model(Model, model), timestamp())
        unit = UnitOfWork().add(
            "request", store.approvals.put_replace(public(updated), request.revision), RetryError
        )
        unit.record(event.type, "approval_request", request_id, after=after).emit(event)
        unit.replay_answer(claim.response(updated) if claim else None)
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return updated
    raise TransientConflictError("the request is changing concurrently; retry")
