"""Examiner reports: the compliance summary and the SR 11-7 model inventory, as shapes.

SR 11-7 (the Federal Reserve's guidance on model risk management) asks a bank to keep an
inventory of its models in use, under development and recently retired, with each model's
purpose, restrictions on its use, owner, developers and validators, when it was last
validated and when it is next due. An inventory row says exactly that, from the records
Custos keeps; `?as_of=` answers the same rows for what ran in production at a past time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from pydantic import ConfigDict, Field

from chalicelib.domain.approvals import Person
from chalicelib.domain.models import ListPage, ModelStatus, Outbound


class ProductionDeployment(Outbound):
    """A production deployment of one of the model's versions."""

    version_number: int
    deployment_id: str
    target: str
    since: datetime
    until: datetime | None = Field(default=None, description="Null while it still runs")


class OpenFindings(Outbound):
    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0


class InventoryRow(Outbound):
    """One model as an SR 11-7 inventory lists it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "name": "Retail PD",
                    "purpose": "Probability of default for retail credit",
                    "intended_use": "Retail credit decisions up to 50k",
                    "restrictions": "Not for commercial lending",
                    "risk_tier": 1,
                    "regulatory_scope": ["sr-11-7"],
                    "business_unit": "Retail credit",
                    "status": "in_production",
                    "owner": {"id": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RT", "name": "Ada"},
                    "developers": [{"id": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RT", "name": "Ada"}],
                    "validators": [{"id": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RV", "name": "Val"}],
                    "version_count": 2,
                    "approved_version": 2,
                    "last_validated_at": "2026-06-30T12:00:00Z",
                    "next_validation_due_at": "2027-06-30T12:00:00Z",
                    "production_versions": [2],
                    "production_deployments": [],
                    "open_findings": {"critical": 0, "high": 0, "medium": 1, "low": 2},
                    "accepted_exceptions": 1,
                }
            ]
        }
    )

    id: str
    name: str
    purpose: str
    intended_use: str | None = None
    restrictions: str | None = None
    risk_tier: int = Field(description="The tier in force (1 until a validator confirms it)")
    regulatory_scope: list[str]
    business_unit: str | None = None
    status: ModelStatus
    owner: Person
    developers: list[Person]
    validators: list[Person] = Field(
        description="Who decided the validator stages of its current approved version's"
        " approval request"
    )
    version_count: int
    approved_version: int | None = Field(
        default=None, description="Its current approved version (the highest approved)"
    )
    last_validated_at: datetime | None = Field(
        default=None, description="That version's approval, or its last revalidation"
    )
    next_validation_due_at: datetime | None = Field(
        default=None, description="When that version is due for revalidation"
    )
    production_versions: list[int] = Field(
        description="The versions in production (now, or at `as_of`)"
    )
    production_deployments: list[ProductionDeployment] = Field(
        description="Their production deployments (open now, or in force at `as_of`)"
    )
    open_findings: OpenFindings = Field(description="Its open findings (now), by severity")
    accepted_exceptions: int = Field(
        description="Its findings whose risk an approver accepted (now), until their expiry"
    )


class InventoryPage(ListPage):
    items: list[InventoryRow]
    as_of: datetime | None = Field(
        default=None, description="The moment the rows answer for, when asked for one"
    )


class ModelCounts(Outbound):
    total: int
    by_risk_tier: dict[str, int] = Field(description="By tier in force: 1, 2, 3")
    by_status: dict[str, int]


class FindingCounts(Outbound):
    total: int
    by_status: dict[str, int] = Field(description="open, resolved, accepted")
    open_by_severity: dict[str, int] = Field(description="critical, high, medium, low")
    open_by_rule: dict[str, int] = Field(
        description="By the scan rule that raised them; a validator's own under `manual`"
    )


class ComplianceReport(Outbound):
    """The tenant's inventory and findings, counted now."""

    generated_at: datetime
    models: ModelCounts
    findings: FindingCounts


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339 section 5.6 date-time: the offset is required; `T` or a space between.
_TIME = re.compile(
    r"(?P<minute>[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?P<fraction>\.[0-9]+)?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# The shape a body's `as_of` must have (its JSON Schema pattern); the calendar is checked
# after (`as_of_moment`).
AS_OF_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
)
AS_OF_HINT = "must be a date (2026-03-31: the end of that day, UTC) or an RFC 3339 time"


def as_of_moment(text: str) -> datetime:
    """The moment `as_of` names, in UTC: a date `YYYY-MM-DD` is the end of that day (its
    last millisecond, as times are stored), an RFC 3339 time is itself (fractions past
    microseconds cut, a leap second as the last microsecond before it, a time past years
    1-9999 in UTC as the first or last one). ValueError for anything else."""
    if _DATE.fullmatch(text):
        day = date.fromisoformat(text)
        return datetime.combine(day, time(23, 59, 59, 999_000), tzinfo=UTC)
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(AS_OF_HINT)
    second, fraction = match["second"], (match["fraction"] or "")[:7]
    if second == "60":
        second, fraction = "59", ".999999"
    normal = f"{match['minute']}:{second}{fraction}{match['offset']}"
    parsed = datetime.fromisoformat(normal.upper().replace(" ", "T"))
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if parsed.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)
