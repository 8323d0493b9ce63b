"""Findings: what is out of policy, on which model or version, and what was done about it.

A finding is raised by a rule of the compliance scan (`RULES`) or by a validator (manual).
It is `open` until its condition clears (a scan resolves a rule finding), a validator
resolves it with a note, or an approver accepts its risk until an expiry (`accepted`); an
acceptance that expires reopens it. A rule finding has a stable id made from its rule and
subject (`finding_id_for`), so every scan that sees the same condition finds the same
finding: scans upsert, they never duplicate.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.domain.models import Inbound, ListPage, ModelId, Outbound, ShortText, WholeNumber
from chalicelib.domain.severity import BLOCKING, Severity


class FindingStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ACCEPTED = "accepted"


class FindingKind(StrEnum):
    RULE = "rule"  # raised and resolved by the compliance scan
    MANUAL = "manual"  # raised by a validator


class Rule(NamedTuple):
    """A rule of the compliance scan: its stable id, its severity and what it says."""

    id: str
    severity: Severity | None  # None: the severity comes from the policy (metric thresholds)
    title: str


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {rule.id: rule for rule in rules}


RULES: dict[str, Rule] = _rules(
    Rule(
        "deployment.unapproved",
        Severity.CRITICAL,
        "Runs in production without a valid approval",
    ),
    Rule("approval.expired", Severity.HIGH, "Its approval has expired"),
    Rule("revalidation.overdue", Severity.HIGH, "Its revalidation is overdue"),
    Rule("revalidation.due_soon", Severity.LOW, "Its revalidation is due within 30 days"),
    Rule(
        "documentation.incomplete",
        Severity.MEDIUM,
        "Its model card lacks fields the policy requires for its tier or scope",
    ),
    Rule(
        "artifact.changed",
        Severity.CRITICAL,
        "An approved artifact is missing from S3, or is no longer the object approved",
    ),
    Rule("metric.threshold", None, "A reported metric is beyond its policy threshold"),
    Rule("metrics.stale", Severity.MEDIUM, "A production version has no recent metrics"),
    Rule("approval.stuck", Severity.MEDIUM, "An approval request is open past its deadline"),
    Rule("owner.inactive", Severity.HIGH, "The model's owner is missing or inactive"),
    Rule("finding.overdue", Severity.HIGH, "A finding is open past its due date"),
)
REVALIDATION_WARNING_DAYS = 30
# How long after a stage's deadline and escalation an open request counts as stuck (the
# workflow escalates and expires it on time; one still open is a workflow that stalled).
STUCK_GRACE_SECONDS = 3600
MAX_ACCEPTANCE_DAYS = 730
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
Note = Annotated[ShortText, StringConstraints(min_length=1, max_length=2_000)]


def finding_id_for(rule: str, model_id: str, version_number: int | None, key: str = "") -> str:
    """The id of the finding rule `rule` raises on a subject: the same every scan."""
    subject = f"{rule}|{model_id}|{version_number or ''}|{key}"
    value = int.from_bytes(hashlib.sha256(subject.encode()).digest()[:17], "big") >> 6
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "fnd_" + "".join(reversed(chars))


class Observation(NamedTuple):
    """A condition a scan saw: the finding it raises or keeps open."""

    rule: str
    model_id: str
    version_number: int | None
    severity: Severity
    message: str
    key: str = ""  # tells apart findings of one rule on one subject (a metric, an artifact)
    facts: dict[str, Any] | None = None

    @property
    def finding_id(self) -> str:
        return finding_id_for(self.rule, self.model_id, self.version_number, self.key)


def blocks(severity: Severity | str) -> bool:
    """Whether an open finding of `severity` blocks decisions and production deployments."""
    return Severity(severity) in BLOCKING


# --- shapes ------------------------------------------------------------------------------


class FindingCreate(Inbound):
    """A manual finding, raised by a validator on a model or one of its versions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "severity": "high",
                    "title": "Population drift not analysed",
                    "detail": "The validation report omits the 2026 applicant population.",
                },
                {
                    "model_id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "version_number": 1,
                    "severity": "critical",
                    "title": "Fairness across age bands not tested",
                },
            ]
        }
    )
    model_id: ModelId
    version_number: Annotated[int, Field(ge=1, le=999_999), WholeNumber] | None = Field(
        default=None, description="The version it concerns; absent: the model as a whole"
    )
    severity: Severity
    title: Title
    detail: ShortText = ""


class FindingAcceptance(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "Compensating control: monthly manual review until retraining.",
                    "expires_at": "2027-06-30T00:00:00Z",
                },
                {"reason": "Accepted until the Q3 retrain", "expires_at": "2027-03-31T00:00:00Z"},
            ]
        }
    )
    reason: Note
    expires_at: datetime = Field(
        description=f"When the acceptance lapses and the finding reopens (at most"
        f" {MAX_ACCEPTANCE_DAYS} days ahead)"
    )


class FindingResolution(Inbound):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "Drift analysis added to the report, v2."}]}
    )
    note: Note


class Acceptance(Outbound):
    reason: str
    expires_at: datetime
    accepted_by: str
    accepted_at: datetime


class Finding(Outbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "fnd_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "kind": "rule",
                    "rule": "revalidation.overdue",
                    "severity": "high",
                    "status": "open",
                    "title": "Its revalidation is overdue",
                    "detail": "revalidation was due at 2026-11-01T00:00:00Z",
                    "model_id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "version_number": 1,
                    "facts": {"due_at": "2026-11-01T00:00:00Z"},
                    "due_at": "2026-12-31T00:00:00Z",
                    "opened_at": "2026-12-01T00:00:00Z",
                    "last_seen_at": "2026-12-01T00:00:00Z",
                    "created_at": "2026-12-01T00:00:00Z",
                    "updated_at": "2026-12-01T00:00:00Z",
                    "revision": 1,
                }
            ]
        }
    )

    id: str
    kind: FindingKind
    rule: str | None = Field(default=None, description="The scan rule that raised it")
    severity: Severity
    status: FindingStatus
    title: str
    detail: str = ""
    model_id: str
    version_number: int | None = Field(default=None, description="null: the whole model")
    facts: dict[str, Any] = Field(default_factory=dict, description="What the rule saw")
    due_at: datetime = Field(description="From the policy's due days for its severity")
    opened_at: datetime = Field(description="When it last opened (or reopened)")
    last_seen_at: datetime | None = Field(
        default=None, description="The last scan that saw its condition"
    )
    raised_by: str | None = Field(default=None, description="The validator (manual)")
    resolved_at: datetime | None = None
    resolved_by: str | None = Field(default=None, description="A principal, or null: a scan")
    resolution_note: str | None = None
    acceptance: Acceptance | None = None
    reopened_count: int = 0
    created_at: datetime
    updated_at: datetime
    revision: int

    @property
    def blocking(self) -> bool:
        return self.status is FindingStatus.OPEN and blocks(self.severity)


class FindingList(ListPage):
    items: list[Finding]


class RevalidationDue(Outbound):
    """The payload of `revalidation.due`: a version's revalidation falls due soon."""

    model_id: str
    version_number: int
    due_at: datetime
    finding_id: str


class ScanRequested(Outbound):
    """The payload of the internal event that starts a tenant's scan."""

    scan_id: str
    trigger: str = Field(default="request", description="request or schedule")


class ScanStarted(Outbound):
    """The answer to a scan request: the scan and where to follow it."""

    id: str
    status: str
    link: str


class ScanStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ScanCounts(Outbound):
    models: int = 0
    versions: int = 0
    deployments: int = 0
    observations: int = Field(default=0, description="Conditions the rules saw")
    opened: int = Field(default=0, description="Findings opened (or reopened)")
    updated: int = Field(default=0, description="Open findings seen again")
    resolved: int = Field(default=0, description="Findings whose condition cleared")


class ComplianceScan(Outbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "scn_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "status": "completed",
                    "trigger": "request",
                    "requested_by": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "created_at": "2026-12-01T00:00:00Z",
                    "started_at": "2026-12-01T00:00:01Z",
                    "completed_at": "2026-12-01T00:00:09Z",
                    "phase": "done",
                    "counts": {"models": 12, "versions": 20, "opened": 3},
                }
            ]
        }
    )

    id: str
    status: ScanStatus
    trigger: str = Field(description="schedule or request")
    requested_by: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    phase: str | None = Field(default=None, description="The rule group being evaluated")
    counts: ScanCounts = Field(default_factory=ScanCounts)
    error: str | None = Field(default=None, description="Why the last attempt failed")
    attempts: int = 0


class ComplianceScanList(ListPage):
    items: list[ComplianceScan]
