"""Deciding a stage, as pure rules over the request's shapes: what a decision must carry,
and when it closes its stage (a reject at once; approvals once they reach the quorum)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.approvals import (
    ApprovalStage,
    Decision,
    DecisionCreate,
    Outcome,
    StageStatus,
)
from chalicelib.errors import DomainRuleError, FieldError


def check(body: DecisionCreate, stage: ApprovalStage, last: bool, now: datetime) -> None:
    """422 for a decision that breaks a rule of its stage: a reject says why; conditions of
    use and an expiry belong to the approval, so to an approving decision on the last stage;
    an approval cannot lapse before it is made."""
    errors = []
    if body.approval_expires_at is not None and body.approval_expires_at <= now:
        errors.append(FieldError("body.approval_expires_at", "must be in the future"))
    if body.outcome is Outcome.REJECT and not (body.comment or "").strip():
        errors.append(FieldError("body.comment", "a reject needs a comment"))
    for field in ("conditions", "approval_expires_at"):
        if getattr(body, field) is None:
            continue
        if not last:
            errors.append(FieldError(f"body.{field}", "only on the last stage"))
        elif body.outcome is Outcome.REJECT:
            errors.append(FieldError(f"body.{field}", "only with an approval"))
    if errors:
        raise DomainRuleError(
            f"the decision on stage {stage.index} ({stage.name}) is incomplete", errors=errors
        )


def closes(stage: ApprovalStage, decision: Decision) -> bool:
    """Whether `decision` closes the open `stage`: a reject, or the approval that meets the
    quorum."""
    if decision.outcome is Outcome.REJECT:
        return True
    return stage.approvals + 1 >= stage.quorum


def decided(stage: ApprovalStage, decision: Decision) -> ApprovalStage:
    """The stage with `decision` added, closed with its outcome when it closes it."""
    update: dict[str, object] = {"decisions": [*stage.decisions, decision]}
    if closes(stage, decision):
        update |= {
            "status": StageStatus.CLOSED,
            "outcome": decision.outcome,
            "closed_at": decision.decided_at,
        }
    return stage.model_copy(update=update)
