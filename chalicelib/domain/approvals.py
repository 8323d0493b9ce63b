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
from pydantic.json_schema import JsonDict

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
    key_issued_by: str | None = Field(
        default=None,
        description="Who issued that key: always the deciding principal (only a key its "
        "principal issued or rotated itself may decide)",
    )
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
EXAMPLE_STAGE: JsonDict = {
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
                    "stages": [EXAMPLE_STAGE],
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
            "examples": [
                {"outcome": "approve", "comment": "Validation report reviewed"},
                {"outcome": "approve"},
            ]
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


class Person(Outbound):
    """A principal as an event names it, so a chat or ticketing bridge can notify them."""

    id: str
    name: str
    email: str | None = None


DECIDERS_LISTED = 100  # the most deciders an event names (by name); `deciders_truncated` says
EXAMPLE_DECIDER: JsonDict = {
    "id": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RX",
    "name": "Vera Validator",
    "email": "vera@bank.example",
}
EXAMPLE_CONTACT: JsonDict = {
    "id": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RY",
    "name": "Model Risk Office",
    "email": "model-risk@bank.example",
}
EXAMPLE_NOTICE: JsonDict = {
    "request_id": EXAMPLE_ID,
    "model_id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RT",
    "version_number": 3,
    "stage": EXAMPLE_STAGE,
    "deciders": [EXAMPLE_DECIDER],
    "deciders_truncated": False,
    "link": f"/v1/approval-requests/{EXAMPLE_ID}",
    "url": f"https://custos.bank.example/v1/approval-requests/{EXAMPLE_ID}",
}


class StageNotice(Outbound):
    """A stage waiting for its deciders, named so that they can be told."""

    request_id: str
    model_id: str
    version_number: int
    stage: ApprovalStage
    deciders: list[Person] = Field(
        description="Who may decide the stage now, by name: the tenant's active principals"
        " holding its role whom separation of duties lets decide it (never the submitter,"
        " anyone who is or has been on the model's team, or who decided another stage of the"
        f" request); at most {DECIDERS_LISTED}"
    )
    deciders_truncated: bool = Field(description="More may decide it than `deciders` names")
    link: str = Field(description="The request in the API, a path under the API's base URL")
    url: str | None = Field(
        default=None,
        description="`link` as an absolute URL, when the deployment has a public base URL"
        " configured; else null",
    )


class StageOpened(StageNotice):
    """`approval.requested`: a stage is open and waits for its deciders (`deciders`, who
    hold `stage.role`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_NOTICE]})


class DecisionRecorded(Outbound):
    """`approval.decided`: one decision on a stage; `stage_closed` when it met the quorum
    or rejected."""

    request_id: str
    model_id: str
    version_number: int
    stage: int
    decision: Decision
    stage_closed: bool


class StageEscalated(StageNotice):
    """`approval.escalated`: a stage passed its deadline undecided; it waits once more,
    until `stage.deadline`, then expires. For its deciders and the policy's escalation
    contacts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **EXAMPLE_NOTICE,
                    "stage": {
                        **EXAMPLE_STAGE,
                        "escalated_at": "2026-12-08T09:00:01Z",
                        "deadline": "2026-12-11T09:00:01Z",
                    },
                    "escalation_contacts": [EXAMPLE_CONTACT],
                    "escalation_contact_ids": [EXAMPLE_CONTACT["id"]],
                }
            ]
        }
    )

    escalation_contacts: list[Person] = Field(
        description="The policy's escalation contacts who are still active principals, by name"
    )
    escalation_contact_ids: list[str] = Field(
        description="The policy's escalation contacts, by id (as pinned at submission)"
    )
