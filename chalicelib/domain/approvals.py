"""Approval requests as the workflow's first piece knows them: stages sequenced by the
state machine, each opened with a task token and closed by an outcome or its deadline.

The approvals capability builds on these shapes (policy-pinned stages, decisions, quorum,
evidence); here a request has the stages it was opened with and their states.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from chalicelib.domain.models import Outbound
from chalicelib.domain.roles import Role


class RequestStatus(StrEnum):
    PENDING = "pending"  # submitted; the workflow has not opened a stage yet
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class StageStatus(StrEnum):
    WAITING = "waiting"
    OPEN = "open"
    CLOSED = "closed"
    EXPIRED = "expired"


class Outcome(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ApprovalStage(Outbound):
    index: int
    name: str
    role: Role
    quorum: int = Field(ge=1)
    timeout_seconds: int = Field(ge=1, description="How long the stage waits for its outcome")
    status: StageStatus = StageStatus.WAITING
    opened_at: datetime | None = None
    deadline: datetime | None = None
    outcome: Outcome | None = None


class ApprovalRequest(Outbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "apr_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "model_id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RT",
                    "version_number": 3,
                    "status": "in_review",
                    "stages": [
                        {
                            "index": 0,
                            "name": "validation",
                            "role": "validator",
                            "quorum": 1,
                            "timeout_seconds": 604800,
                            "status": "open",
                        }
                    ],
                    "submitted_by": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RV",
                    "created_at": "2026-12-01T09:00:00Z",
                    "updated_at": "2026-12-01T09:00:01Z",
                    "revision": 2,
                }
            ]
        }
    )

    id: str
    model_id: str
    version_number: int
    status: RequestStatus
    stages: list[ApprovalStage]
    submitted_by: str
    created_at: datetime
    updated_at: datetime
    revision: int


class StageOpened(Outbound):
    """`approval.requested`: a stage is open and waits for its deciders."""

    request_id: str
    model_id: str
    version_number: int
    stage: ApprovalStage
    link: str = Field(description="The request in the API")
