"""What an approval request's workflow ends with, applied to the request and its version.

`request.decided` approves the version (every stage reached its quorum: the version
records what approved it, the artifact digests and S3 object versions the request froze,
and the conditions of use and expiry the last stage's approvers set) or rejects it (a stage
was rejected); `request.expired` expires the request and makes the version a draft again.
Each moves the version through `domain.lifecycle` as the workflow, once, in one unit of
work with the request and the model's derived status (`services.standing`: an approval
makes an in-development model approved, a rejected revalidation may make an approved one
in development again). A model changed meanwhile (a PATCH, a deployment) makes the unit
retry on fresh reads. An approval sets the version's next revalidation, its pinned
policy's interval ahead.

A revalidation's version stays approved while it runs: approving it sets the next due
date (its approval is left as it was), rejecting it rejects the version, and expiry leaves
the version approved (and still due).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import events, lifecycle
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import (
    OPEN_REQUEST,
    ApprovalRequest,
    Outcome,
    RequestKind,
    RequestStatus,
    StageStatus,
)
from chalicelib.domain.models import Model, Version, VersionApproval
from chalicelib.errors import NotFoundError, TransientConflictError
from chalicelib.services import standing
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.scope import TenantStore
from chalicelib.store.unit import RetryError, UnitOfWork

V = lifecycle.VersionStatus
WORKFLOW = "system:workflow"
ATTEMPTS = 25


def decided(store: TenantStore, actor: Actor, request_id: str, outcome: Outcome) -> None:
    """The workflow's outcome: approved (every stage met its quorum) or rejected."""
    for _ in range(ATTEMPTS):
        try:
            return _decided(store, actor, request_id, outcome)
        except RetryError:
            continue
    raise TransientConflictError(f"request {request_id}'s model changed too often; retry")


def _decided(store: TenantStore, actor: Actor, request_id: str, outcome: Outcome) -> None:
    request, version, model = _read(store, request_id)
    if request.status not in OPEN_REQUEST:
        return  # closed already (a redelivery, or withdrawn as it was decided)
    at = timestamp()
    revalidation = request.kind is RequestKind.REVALIDATION
    fields: dict[str, Any] = {}
    if outcome is Outcome.APPROVE:
        status, kind = RequestStatus.APPROVED, events.APPROVAL_APPROVED
        # A revalidation leaves the version approved and its approval as it was.
        moved = version.status if revalidation else _moved(version, V.APPROVED)
        due = datetime.fromisoformat(at) + timedelta(days=request.revalidation_interval_days)
        fields["revalidation_due_at"] = due
        if revalidation:
            fields["revalidated_at"] = at
        else:
            fields["approval"] = public(_approval(request, at))
    else:
        status, kind = RequestStatus.REJECTED, events.APPROVAL_REJECTED
        moved = _moved(version, V.REJECTED)
    _close(store, actor, request, (version, model), status, moved, at, fields, kind)


def expired(store: TenantStore, actor: Actor, request_id: str) -> None:
    """A stage passed its escalated deadline undecided: the request expires, the version
    is a draft again (its artifacts thaw)."""
    for _ in range(ATTEMPTS):
        try:
            return _expired(store, actor, request_id)
        except RetryError:
            continue
    raise TransientConflictError(f"request {request_id}'s model changed too often; retry")


def _expired(store: TenantStore, actor: Actor, request_id: str) -> None:
    request, version, model = _read(store, request_id)
    if request.status not in OPEN_REQUEST:
        return
    at = timestamp()
    # An expired revalidation leaves the version approved: it is simply still due.
    revalidation = request.kind is RequestKind.REVALIDATION
    moved = version.status if revalidation else _moved(version, V.DRAFT)
    _close(
        store,
        actor,
        request,
        (version, model),
        RequestStatus.EXPIRED,
        moved,
        at,
        {},
        events.APPROVAL_EXPIRED,
    )


def _moved(version: Version, target: lifecycle.VersionStatus) -> lifecycle.VersionStatus:
    return lifecycle.transition(version.status, target, {lifecycle.Mover.WORKFLOW})


def _read(store: TenantStore, request_id: str) -> tuple[ApprovalRequest, Version, Model]:
    item = store.approvals.get(request_id)
    if item is None:
        raise NotFoundError(f"no approval request {request_id}")
    request = to_model(ApprovalRequest, item)
    keys = store.keys
    version, model = store.get_many(
        [keys.version(request.model_id, request.version_number), keys.model(request.model_id)]
    )
    if version is None or model is None:
        raise NotFoundError(f"no version {request.version_number} of {request.model_id}")
    return request, to_model(Version, version), to_model(Model, model)


def _approval(request: ApprovalRequest, at: str) -> VersionApproval:
    """What approved the version: the frozen artifacts, and the conditions and earliest
    expiry its last stage's approvers set."""
    approving = [d for d in request.stages[-1].decisions if d.outcome is Outcome.APPROVE]
    conditions = list(dict.fromkeys(c for d in approving for c in d.conditions))
    expiries: list[datetime] = [d.approval_expires_at for d in approving if d.approval_expires_at]
    return VersionApproval.model_validate(
        {
            "request_id": request.id,
            "policy_version": request.policy_version,
            "approved_at": at,
            "artifacts": [public(a) for a in request.artifacts],
            "conditions": conditions,
            "expires_at": min(expiries) if expiries else None,
        }
    )


def _close(
    store: TenantStore,
    actor: Actor,
    request: ApprovalRequest,
    subject: tuple[Version, Model],
    status: RequestStatus,
    version_status: lifecycle.VersionStatus,
    at: str,
    fields: dict[str, Any],
    kind: events.EventType,
) -> None:
    """Close the request with `status` and move its version to `version_status` (with
    `fields` set on it), once, in one unit of work, with the model's derived status; a
    revalidation's link is cleared."""
    version, model = subject
    data = public(request)
    stages = [
        {**public(s), "status": StageStatus.EXPIRED, "closed_at": at}
        if status is RequestStatus.EXPIRED and s.status is StageStatus.OPEN
        else public(s)
        for s in request.stages
    ]
    entry = {"at": at, "action": str(status), "by": WORKFLOW}
    closed = ApprovalRequest.model_validate(
        {
            **data,
            "stages": stages,
            "status": status,
            "history": [*data["history"], entry],
            "closed_at": at,
            "updated_at": at,
            "revision": request.revision + 1,
        }
    )
    moved = Version.model_validate(
        {
            **public(version),
            **fields,
            "status": version_status,
            "revalidation_request_id": None,
            "updated_at": at,
            "revision": version.revision + 1,
        }
    )
    unit = UnitOfWork().once(store.keys.processed("workflow", f"{request.id}#outcome"))
    unit.add("request", store.approvals.put_replace(public(closed), request.revision))
    unit.add(
        "version",
        store.inventory.put_moved_version(public(moved), version.revision, version.status),
        RetryError,
    )
    after = standing.standing_of(model).moved(version.status, version_status)
    restated = standing.restate(store, unit, model, after, at)
    unit.record(
        kind.name,
        "approval_request",
        request.id,
        **standing.noted(
            model,
            restated,
            (
                {"status": request.status, "version_status": version.status},
                {
                    "status": status,
                    "version_status": version_status,
                    **{k: public(moved)[k] for k in fields},
                },
            ),
        ),
    )
    store.commit(actor, unit.emit(kind.of(closed)))
