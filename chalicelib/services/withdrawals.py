"""Taking a version back: the submitter cancels a pending request, the team reopens a
rejected version.

Cancelling closes the request (`cancelled`; an open stage `cancelled` too) and makes an
approval's version a draft again (a revalidation's stays approved), in one unit of work
that also owes the open stage's task token the answer `cancel`, sent after the commit (the
reconciler sends it if that fails); the state machine then ends. A stage the workflow has
not opened yet is answered `cancel` when it opens (`services.workflow`). A request whose
outcome is settled (a reject, or the last quorum met) can no longer be cancelled: 409.
"""

from __future__ import annotations

from chalicelib.domain import duties, events, lifecycle
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import (
    CANCEL,
    OPEN_REQUEST,
    ApprovalRequest,
    RequestKind,
    RequestStatus,
    StageStatus,
)
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import Model, Version
from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError, TransientConflictError
from chalicelib.services import workflow
from chalicelib.services.inventory import team, version_number
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

ATTEMPTS = 10
V = lifecycle.VersionStatus


def cancel(actor: Actor, request_id: str) -> ApprovalRequest:
    """Withdraw a pending request (the submitter only; see the module docstring)."""
    store = for_actor(actor)
    if not is_id(request_id, "approval_request"):
        raise NotFoundError(f"no approval request {request_id}")
    for _ in range(ATTEMPTS):
        request = workflow.read_request(store, request_id)
        if actor.principal_id != request.submitted_by:
            raise ForbiddenError("only the submitter may cancel the request")
        if request.status not in OPEN_REQUEST:
            raise ConflictError(f"the request is {request.status}: it can no longer be cancelled")
        if request.decided():
            raise ConflictError("the request is decided; its outcome is being applied")
        at = timestamp()
        cancelled = _cancelled(request, at, str(actor.principal_id))
        open_stage = request.open_stage()
        unit = UnitOfWork().add(
            "request",
            store.approvals.put_replace(public(cancelled), request.revision),
            RetryError,  # a decision or the workflow got there first: look again
        )
        version_status = _draft_again(store, unit, request, at)
        if open_stage is not None:
            unit.add(
                "callback",
                store.operational.owe_callback_op(request_id, open_stage.index, CANCEL, at),
            )
        unit.record(
            "approval.cancelled",
            "approval_request",
            request_id,
            before={"status": request.status},
            after={"status": cancelled.status, "version_status": version_status},
        )
        unit.emit(events.APPROVAL_CANCELLED.of(cancelled))
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        if open_stage is not None:
            workflow.call_back(store, request_id, open_stage.index, CANCEL)
        return cancelled
    raise TransientConflictError("the request is changing concurrently; retry")


def _cancelled(request: ApprovalRequest, at: str, by: str) -> ApprovalRequest:
    data = public(request)
    stages = [
        {**public(s), "status": StageStatus.CANCELLED, "closed_at": at}
        if s.status is StageStatus.OPEN
        else public(s)
        for s in request.stages
    ]
    return ApprovalRequest.model_validate(
        {
            **data,
            "stages": stages,
            "status": RequestStatus.CANCELLED,
            "history": [*data["history"], {"at": at, "action": "cancelled", "by": by}],
            "closed_at": at,
            "updated_at": at,
            "revision": request.revision + 1,
        }
    )


def _draft_again(
    store: TenantStore, unit: UnitOfWork, request: ApprovalRequest, at: str
) -> str | None:
    """Add the version's return to draft to `unit` (an approval's; a revalidation's stays
    approved, its link to the request cleared); the status it ends in."""
    item = store.inventory.get_version(request.model_id, request.version_number)
    if item is None:
        raise NotFoundError(f"no version {request.version_number} of {request.model_id}")
    version = to_model(Version, item)
    if request.kind is RequestKind.REVALIDATION:
        target = version.status  # still approved, no longer being revalidated
    else:
        target = lifecycle.transition(version.status, V.DRAFT, {lifecycle.Mover.SUBMITTER})
    moved = {**public(version), "status": target, "updated_at": at}
    moved |= {"revalidation_request_id": None, "revision": version.revision + 1}
    unit.add(
        "version",
        store.inventory.put_moved_version(moved, version.revision, version.status),
        RetryError,
    )
    return str(target)


def reopen(actor: Actor, model_id: str, number: str) -> Version:
    """Make a rejected version a draft again, for its team to fix its documentation and
    submit anew. 404 for a version that is not the tenant's, 403 off the model's team, 409
    unless it is rejected."""
    store = for_actor(actor)
    n = version_number(number) if is_id(model_id, "model") else None
    if n is None:
        raise NotFoundError(f"no version {number} of model {model_id}")
    model_item, version_item = store.get_many(
        [store.keys.model(model_id), store.keys.version(model_id, n)]
    )
    if model_item is None or version_item is None:
        raise NotFoundError(f"no version {number} of model {model_id}")
    model, version = to_model(Model, model_item), to_model(Version, version_item)
    duties.require_team_developer(actor, team(model), "reopen its versions")
    target = lifecycle.transition(version.status, V.DRAFT, {lifecycle.Mover.TEAM})
    at = timestamp()
    reopened = Version.model_validate(
        {**public(version), "status": target, "updated_at": at, "revision": version.revision + 1}
    )
    unit = UnitOfWork().add(
        "version",
        store.inventory.put_moved_version(public(reopened), version.revision, version.status),
        lambda: ConflictError(f"version {n} changed meanwhile; read it again"),
    )
    unit.record(
        "version.reopened",
        "version",
        version.id,
        before={"status": version.status},
        after={"status": target},
    )
    store.commit(actor, unit.emit(events.VERSION_REOPENED.of(reopened)))
    return reopened
