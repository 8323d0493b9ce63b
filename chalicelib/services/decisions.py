"""Deciding the open stage of an approval request.

A decision is checked (a key of the decider's own, the stage's role, separation of duties
against the model's team as it is now, one decision per principal per stage and one stage
per principal per request; `domain.duties`), then recorded with a conditional write on the
request that also closes the stage when the quorum is met or a reject arrives; closing it
owes the workflow its callback in the same transaction (`Operational.owe_callback_op`).
After the commit the callback is sent (`workflow.complete_stage`); if that fails, the
reconciler sends it. A decision on a stage that has closed is a 409, audited as
`approval.decision_refused`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import decisions, duties, events
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import (
    ApprovalRequest,
    ApprovalStage,
    Decision,
    DecisionCreate,
    DecisionRecorded,
    Outcome,
    RequestStatus,
    StageStatus,
)
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import Model
from chalicelib.errors import ConflictError, NotFoundError, TransientConflictError
from chalicelib.services import findings, workflow
from chalicelib.services.inventory import team
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

# Deciders racing on one request each re-read and retry after losing; 20 at once settle
# well within this.
ATTEMPTS = 40


def decide(
    actor: Actor, request_id: str, body: DecisionCreate, claim: Claim | None = None
) -> ApprovalRequest:
    """Record the actor's decision on the request's open stage; see the module docstring."""
    store = for_actor(actor)
    if not is_id(request_id, "approval_request"):
        raise NotFoundError(f"no approval request {request_id}")
    for _ in range(ATTEMPTS):
        request, model, counts = _read(store, request_id)
        # Only a key its principal issued or rotated itself decides: an admin who issued
        # an approver's key cannot approve in the approver's name.
        duties.require_own_key(actor, "decide an approval stage")
        stage = request.current_stage()
        if stage is None:
            raise ConflictError("no stage of this request is open yet: its workflow is starting")
        if stage.status is not StageStatus.OPEN and not _over(request):
            # Between stages: the last one closed, the workflow is opening the next.
            raise ConflictError("the next stage is opening; decide it once it is open")
        duties.require_stage_decider(
            actor,
            stage=stage.index,
            stage_role=stage.role,
            submitter_id=request.submitted_by,
            members=team(model),
            past_team=[*model.past_team_ids, *request.ineligible_ids],
            deciders_by_stage=request.deciders(),
        )
        if stage.status is not StageStatus.OPEN or request.status is not RequestStatus.IN_REVIEW:
            raise _refused(store, actor, request, stage, body)
        last = stage.index == len(request.stages) - 1
        decisions.check(body, stage, last, datetime.now(UTC))
        approving = body.outcome is Outcome.APPROVE
        if approving:  # open critical or high findings block approving, not rejecting
            findings.require_unblocked(store, model.id, request.version_number, counts)
        at = timestamp()
        decision = Decision.model_validate(
            {
                "principal_id": actor.principal_id,
                "key_id": actor.key_id,
                "key_issued_by": actor.key_issuer,
                "outcome": body.outcome,
                "comment": body.comment,
                "conditions": body.conditions or [],
                "approval_expires_at": body.approval_expires_at,
                "decided_at": at,
            }
        )
        closed = decisions.decided(stage, decision)
        closes = closed.status is StageStatus.CLOSED
        updated = _with_stage(request, closed, at, str(actor.principal_id), closes)
        unit = UnitOfWork().add(
            "request",
            store.approvals.put_replace(public(updated), request.revision),
            RetryError,  # another decision (or the workflow) got there first: look again
        )
        if approving:
            unit.add(
                "findings",
                store.findings.check_unblocked(model.id, request.version_number),
                RetryError,  # a finding opened meanwhile: read again, and refuse
            )
        if closes:
            outcome = decision.outcome.value
            unit.add(
                "callback",
                store.operational.owe_callback_op(request_id, stage.index, outcome, at),
                lambda: ConflictError("the workflow holds no token for this stage"),
            )
        unit.record(
            "approval.decided",
            "approval_request",
            request_id,
            before={"stages": [public(stage)]},
            after={"stages": [public(closed)]},
        )
        recorded = DecisionRecorded(
            request_id=request_id,
            model_id=request.model_id,
            version_number=request.version_number,
            stage=stage.index,
            decision=decision,
            stage_closed=closes,
        )
        unit.emit(events.APPROVAL_DECIDED.of(recorded))
        unit.replay_answer(claim.response(updated) if claim else None)
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        if closes:
            workflow.call_back(store, request_id, stage.index, decision.outcome.value)
        return updated
    raise TransientConflictError("too many decisions at once on this request; retry")


def _over(request: ApprovalRequest) -> bool:
    """Whether decisions on the request are over: it is closed, or its outcome settled."""
    return request.status is not RequestStatus.IN_REVIEW or request.decided()


def _read(
    store: TenantStore, request_id: str
) -> tuple[ApprovalRequest, Model, dict[str, Any] | None]:
    """The request, its model and the model's findings counts (those two in one
    BatchGetItem)."""
    item = store.approvals.get(request_id)
    if item is None:
        raise NotFoundError(f"no approval request {request_id}")
    request = to_model(ApprovalRequest, item)
    model, counts = store.get_many(
        [store.keys.model(request.model_id), store.findings.summary_key(request.model_id)]
    )
    if model is None:  # a request's model is never deleted; say so rather than guess
        raise NotFoundError(f"no model {request.model_id}")
    return request, to_model(Model, model), counts


def _with_stage(
    request: ApprovalRequest, stage: ApprovalStage, at: str, by: str, closes: bool
) -> ApprovalRequest:
    history = [{"at": at, "action": "decided", "by": by, "stage": stage.index}]
    if closes:
        action = "stage approved" if stage.outcome is Outcome.APPROVE else "stage rejected"
        history.append({"at": at, "action": action, "by": by, "stage": stage.index})
    return ApprovalRequest.model_validate(
        {
            **public(request),
            "stages": [public(stage if s.index == stage.index else s) for s in request.stages],
            "history": [*public(request)["history"], *history],
            "updated_at": at,
            "revision": request.revision + 1,
        }
    )


def _refused(
    store: TenantStore,
    actor: Actor,
    request: ApprovalRequest,
    stage: ApprovalStage,
    body: DecisionCreate,
) -> ConflictError:
    """Audit a decision that came after its stage closed; the 409 to answer it with."""
    reason = f"stage {stage.index} ({stage.name}) is {stage.status}"
    if request.status is not RequestStatus.IN_REVIEW:
        reason = f"the request is {request.status}"
    unit = UnitOfWork().record(
        "approval.decision_refused",
        "approval_request",
        request.id,
        after={"stage": stage.index, "outcome": body.outcome.value, "reason": reason},
    )
    store.commit(actor, unit)
    return ConflictError(f"{reason}: decisions on it are over")
