"""Approval requests: a version's passage through the stages its policy pinned at
submission, each decided by its role to a quorum, sequenced by the state machine.

| request status | means |
|---|---|
| pending | submitted; the workflow has not opened its first stage yet |
| in_review | a stage is open, or decided and the workflow moving on |
| approved, rejected | the workflow applied the outcome (every stage reached quorum; a reject) |
| expired | a stage passed its escalated deadline undecided |
| cancelled | the submitter withdrew it before it was decided |

A stage is `waiting`, then `open` (the workflow handed over its task token), then `closed`
with an outcome (quorum met, or a reject), or `expired`, or `cancelled`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints

from chalicelib.domain.evidence import Comment, Evidence
from chalicelib.domain.models import FrozenArtifact, Inbound, ListPage, Outbound, ShortText
from chalicelib.domain.roles import Role

CommentText = Annotated[str, StringConstraints(min_length=1, max_length=4_000)]


class RequestKind(StrEnum):
    APPROVAL = "approval"
    REVALIDATION = "revalidation"


class RequestStatus(StrEnum):
    PENDING = "pending"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


OPEN_REQUEST = frozenset({RequestStatus.PENDING, RequestStatus.IN_REVIEW})


class StageStatus(StrEnum):
    WAITING = "waiting"
    OPEN = "open"
    CLOSED = "closed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


CANCEL = "cancel"  # what the workflow is told when the submitter withdraws the request


class Decision(Outbound):
    principal_id: str
    key_id: str = Field(description="The API key the decision was made with")
    outcome: Outcome
    comment: str | None = None
    conditions: list[str] = Field(default_factory=list, description="Conditions of use")
    approval_expires_at: datetime | None = None
    decided_at: datetime


class ApprovalStage(Outbound):
    index: int
    name: str
    role: Role
    quorum: int = Field(ge=1)
    deadline_seconds: int = Field(description="How long the stage waits before escalating")
    escalation_seconds: int = Field(description="How long it waits once escalated")
    status: StageStatus = StageStatus.WAITING
    opened_at: datetime | None = None
    deadline: datetime | None = Field(default=None, description="When it escalates (expires)")
    escalated_at: datetime | None = None
    outcome: Outcome | None = None
    closed_at: datetime | None = None
    decisions: list[Decision] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list, description="Files its deciders added")

    @property
    def approvals(self) -> int:
        return sum(d.outcome is Outcome.APPROVE for d in self.decisions)


class HistoryEntry(Outbound):
    at: datetime
    action: str
    by: str = Field(description="A principal id, or system:workflow")
    stage: int | None = None


EXAMPLE_ID = "apr_01JDQ4W9V3N8Y6Z5X2K7M1P0RS"


class ApprovalRequest(Outbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_ID,
                    "kind": "approval",
                    "model_id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RT",
                    "version_number": 3,
                    "status": "in_review",
                    "policy_version": 2,
                    "risk_tier": 2,
                    "revalidation_interval_days": 730,
                    "stages": [
                        {
                            "index": 0,
                            "name": "validation",
                            "role": "validator",
                            "quorum": 1,
                            "deadline_seconds": 604800,
                            "escalation_seconds": 259200,
                            "status": "open",
                            "opened_at": "2026-12-01T09:00:01Z",
                            "deadline": "2026-12-08T09:00:01Z",
                            "decisions": [],
                        }
                    ],
                    "artifacts": [],
                    "escalation_contact_ids": [],
                    "ineligible_ids": ["prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RV"],
                    "submitted_by": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RV",
                    "submitted_with_key": "key_01JDQ4W9V3N8Y6Z5X2K7M1P0RW",
                    "history": [
                        {
                            "at": "2026-12-01T09:00:00Z",
                            "action": "submitted",
                            "by": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RV",
                        }
                    ],
                    "created_at": "2026-12-01T09:00:00Z",
                    "updated_at": "2026-12-01T09:00:01Z",
                    "revision": 2,
                }
            ]
        }
    )

    id: str
    kind: RequestKind
    model_id: str
    version_number: int
    status: RequestStatus
    policy_version: int = Field(description="The policy version pinned at submission")
    risk_tier: int = Field(description="The tier whose stages the request runs")
    stages: list[ApprovalStage]
    revalidation_interval_days: int = Field(
        description="The pinned policy's interval for the tier: approving sets the version's"
        " next revalidation this many days ahead"
    )
    artifacts: list[FrozenArtifact] = Field(
        description="The version's artifacts as submission froze them: what is approved"
    )
    escalation_contact_ids: list[str] = Field(default_factory=list)
    ineligible_ids: list[str] = Field(
        default_factory=list,
        description="May never decide it: the submitter and the model's team, past and present"
        " at submission (the team is checked again at each decision)",
    )
    submitted_by: str
    submitted_with_key: str
    comments: list[Comment] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    closed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    revision: int

    def open_stage(self) -> ApprovalStage | None:
        return next((s for s in self.stages if s.status is StageStatus.OPEN), None)

    def current_stage(self) -> ApprovalStage | None:
        """The open stage, else the last one that reached an outcome (for telling a late
        decider that it closed), else None (nothing opened yet)."""
        reached = [s for s in self.stages if s.status is not StageStatus.WAITING]
        return self.open_stage() or (reached[-1] if reached else None)

    def deciders(self) -> dict[int, set[str]]:
        """Who decided each stage so far."""
        return {s.index: {d.principal_id for d in s.decisions} for s in self.stages}

    def decided(self) -> bool:
        """Whether the request's outcome is settled, awaiting only the workflow: a stage was
        rejected, or the last one reached its quorum."""
        if any(s.outcome is Outcome.REJECT for s in self.stages):
            return True
        return self.stages[-1].status is StageStatus.CLOSED


class ApprovalRequestList(ListPage):
    items: list[ApprovalRequest]


class SubmissionCreate(Inbound):
    model_config = ConfigDict(json_schema_extra={"examples": [{"kind": "approval"}]})

    kind: Literal["approval", "revalidation"] = Field(
        default="approval",
        description="approval: a draft version, through its tier's stages; revalidation: an"
        " approved version, through its tier's revalidation stages (it stays approved)",
    )


class DecisionCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"outcome": "approve", "comment": "Validation report reviewed"}]
        }
    )

    outcome: Outcome
    comment: CommentText | None = Field(default=None, description="Required on reject")
    conditions: list[ShortText] | None = Field(
        default=None, max_length=20, description="Conditions of use; on the last stage only"
    )
    approval_expires_at: AwareDatetime | None = Field(
        default=None, description="When the approval lapses; on the last stage only"
    )


class StageOpened(Outbound):
    """`approval.requested`: a stage is open and waits for its deciders (its role)."""

    request_id: str
    model_id: str
    version_number: int
    stage: ApprovalStage
    link: str = Field(description="The request in the API")


class DecisionRecorded(Outbound):
    """`approval.decided`: one decision on a stage; `stage_closed` when it met the quorum
    or rejected."""

    request_id: str
    model_id: str
    version_number: int
    stage: int
    decision: Decision
    stage_closed: bool


class StageEscalated(Outbound):
    """`approval.escalated`: a stage passed its deadline undecided; it waits once more,
    until `stage.deadline`, then expires. For its deciders (`stage.role`) and the policy's
    escalation contacts."""

    request_id: str
    model_id: str
    version_number: int
    stage: ApprovalStage
    escalation_contact_ids: list[str]
    link: str = Field(description="The request in the API")
