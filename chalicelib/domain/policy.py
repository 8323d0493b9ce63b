"""A tenant's approval policy: per risk tier, the ordered stages a version passes (name,
deciding role, quorum, deadline, escalation), the revalidation stages and interval, and the
model-card fields a submission needs, per tier and per regulatory scope. Versioned: every
change is a new version, and an approval request pins the version in force at submission.

It also holds what compliance scans hold versions to: the metric thresholds (a data point
breaches one when `value <comparison> threshold`), how old a production version's newest
data point may be, the days a finding has by severity, and how long data points are kept.
Policies stored before these existed read back with their defaults.

Version 1 of every tenant is `DEFAULT` (the defaults below) until an admin sets another.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.domain.anchors import AnchorRetentionDays, anchor_retention
from chalicelib.domain.metrics import MetricName, Number, Segment
from chalicelib.domain.models import (
    SCOPE_PATTERN,
    Inbound,
    ListPage,
    ModelId,
    Outbound,
    PrincipalId,
    RiskTier,
    Scope,
    WholeNumber,
)
from chalicelib.domain.severity import DEFAULT_DUE_DAYS, Severity
from chalicelib.errors import DomainRuleError, FieldError

DAY = 86_400
# Step Functions ends a standard execution after one year: the stages of a tier, each
# waiting its deadline and once more after escalating, must fit in it.
MAX_EXECUTION_SECONDS = 365 * DAY
MAX_WAIT_SECONDS = 180 * DAY
StageName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9 _.-]{0,62}[A-Za-z0-9])?$"
    ),
]
Seconds = Annotated[int, Field(ge=1, le=MAX_WAIT_SECONDS), WholeNumber]
WEEK = 7 * DAY
ESCALATION = 3 * DAY


class CardField(StrEnum):
    """The sections of a model card a policy can require (`ModelCard`'s fields)."""

    MODEL_DETAILS = "model_details"
    INTENDED_USE = "intended_use"
    FACTORS = "factors"
    METRICS = "metrics"
    EVALUATION_DATA = "evaluation_data"
    TRAINING_DATA = "training_data"
    QUANTITATIVE_ANALYSES = "quantitative_analyses"
    ETHICAL_CONSIDERATIONS = "ethical_considerations"
    CAVEATS_AND_RECOMMENDATIONS = "caveats_and_recommendations"


class PolicyStage(Inbound):
    name: StageName
    role: Literal["validator", "approver"] = Field(description="Who decides the stage")
    quorum: Annotated[int, Field(ge=1, le=20), WholeNumber] = Field(
        description="Approvals that close the stage"
    )
    deadline_seconds: Seconds = Field(
        default=WEEK, description="How long the stage waits before it escalates"
    )
    escalation_seconds: Seconds = Field(
        default=ESCALATION, description="How long it waits once escalated, before it expires"
    )


Stages = Annotated[list[PolicyStage], Field(min_length=1, max_length=10)]


class TierPolicy(Inbound):
    stages: Stages = Field(description="In order; each must reach its quorum")
    revalidation_stages: Stages
    revalidation_interval_days: Annotated[int, Field(ge=1, le=3650), WholeNumber]
    required_model_card_fields: list[CardField] = Field(default_factory=list, max_length=9)


class PolicyTiers(Inbound):
    """One entry per risk tier (1 high, 2 medium, 3 low)."""

    model_config = ConfigDict(serialize_by_alias=True)

    tier_1: TierPolicy = Field(alias="1")
    tier_2: TierPolicy = Field(alias="2")
    tier_3: TierPolicy = Field(alias="3")

    def of(self, tier: int) -> TierPolicy:
        """The policy of risk tier `tier` (1-3)."""
        found: TierPolicy = getattr(self, f"tier_{tier}")
        return found


class Comparison(StrEnum):
    """How a data point is held to a threshold: it breaches when `value <op> threshold`."""

    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"


_OPERATORS: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
}
ALL_TIERS = (1, 2, 3)
MAX_THRESHOLDS = 100


class MetricThreshold(Inbound):
    metric: MetricName
    comparison: Comparison = Field(
        description="A data point breaches when value <comparison> threshold (auc lt 0.7)"
    )
    threshold: Number
    severity: Severity = Field(description="Of the finding a breach raises")
    tiers: list[RiskTier] = Field(
        default_factory=list, max_length=3, description="The risk tiers it holds; none: every tier"
    )
    model_id: ModelId | None = Field(
        default=None,
        description="Only this model; for its metric it replaces the tier-wide thresholds",
    )
    segment: Segment | None = Field(
        default=None, description="Only this segment's points; none: every point"
    )


Days = Annotated[int, Field(ge=1, le=3650), WholeNumber]


class DueDays(Inbound):
    """Days from a finding's opening to its due date, by severity."""

    critical: Days = DEFAULT_DUE_DAYS[Severity.CRITICAL]
    high: Days = DEFAULT_DUE_DAYS[Severity.HIGH]
    medium: Days = DEFAULT_DUE_DAYS[Severity.MEDIUM]
    low: Days = DEFAULT_DUE_DAYS[Severity.LOW]


STALE_AFTER_DAYS = 30
RETENTION_DAYS = 400


def _stage(name: str, role: str, quorum: int) -> dict[str, Any]:
    return {
        "name": name,
        "role": role,
        "quorum": quorum,
        "deadline_seconds": WEEK,
        "escalation_seconds": ESCALATION,
    }


REVALIDATION = [_stage("revalidation", "validator", 1)]
DEFAULT_BODY: dict[str, Any] = {
    "tiers": {
        "1": {
            "stages": [
                _stage("validation", "validator", 1),
                _stage("risk approval", "approver", 2),
            ],
            "revalidation_stages": REVALIDATION,
            "revalidation_interval_days": 365,
            "required_model_card_fields": ["intended_use", "metrics"],
        },
        "2": {
            "stages": [_stage("validation", "validator", 1), _stage("approval", "approver", 1)],
            "revalidation_stages": REVALIDATION,
            "revalidation_interval_days": 730,
            "required_model_card_fields": ["intended_use", "metrics"],
        },
        "3": {
            "stages": [_stage("approval", "approver", 1)],
            "revalidation_stages": REVALIDATION,
            "revalidation_interval_days": 1095,
            "required_model_card_fields": ["intended_use"],
        },
    },
    "escalation_contact_ids": [],
    "required_model_card_fields_by_scope": {},
    "metric_thresholds": [],
    "metrics_stale_after_days": STALE_AFTER_DAYS,
    "finding_due_days": {str(s): days for s, days in DEFAULT_DUE_DAYS.items()},
    "metric_retention_days": RETENTION_DAYS,
}
# A second example: the defaults with thresholds (the tier-wide AUC floor, and one model's
# own, which replaces it for that model).
THRESHOLDS_EXAMPLE: list[dict[str, Any]] = [
    {"metric": "auc", "comparison": "lt", "threshold": 0.7, "severity": "high", "tiers": [1, 2]},
    {
        "metric": "psi",
        "comparison": "gt",
        "threshold": 0.25,
        "severity": "medium",
        "segment": "region:emea",
    },
    {
        "metric": "auc",
        "comparison": "lt",
        "threshold": 0.65,
        "severity": "high",
        "model_id": "mdl_01JDQ4ZK3W9V7Y5T2R8N6M4P2B",
    },
]


WITH_THRESHOLDS: dict[str, Any] = {**DEFAULT_BODY, "metric_thresholds": THRESHOLDS_EXAMPLE}


class PolicyBody(Inbound):
    """The whole policy; PUT replaces it (a new version) with the ETag last read."""

    model_config = ConfigDict(json_schema_extra={"examples": [DEFAULT_BODY, WITH_THRESHOLDS]})

    tiers: PolicyTiers
    escalation_contact_ids: list[PrincipalId] = Field(
        default_factory=list,
        max_length=20,
        description="Told, with the stage's deciders, when a stage escalates",
    )
    required_model_card_fields_by_scope: dict[Scope, list[CardField]] = Field(
        default_factory=dict,
        max_length=50,
        description="Model-card fields a model in a regulatory scope needs, beside its tier's",
        # The document says what a key must be (pydantic puts the pattern only in
        # patternProperties, which lets any other key through).
        json_schema_extra={
            "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": SCOPE_PATTERN}
        },
    )
    metric_thresholds: list[MetricThreshold] = Field(
        default_factory=list,
        max_length=MAX_THRESHOLDS,
        description="What scans hold reported metrics to; one per metric, segment, model and tiers",
    )
    metrics_stale_after_days: Annotated[int, Field(ge=1, le=365), WholeNumber] = Field(
        default=STALE_AFTER_DAYS,
        description="A production version whose newest data point is older (or that has"
        " none) is stale",
    )
    finding_due_days: DueDays = Field(default_factory=DueDays)
    metric_retention_days: Annotated[int, Field(ge=30, le=3650), WholeNumber] = Field(
        default=RETENTION_DAYS, description="How long data points are kept"
    )
    audit_anchor_retention_days: AnchorRetentionDays = anchor_retention()


class StageView(Outbound):
    name: str
    role: Literal["validator", "approver"]
    quorum: int
    deadline_seconds: int
    escalation_seconds: int


class TierView(Outbound):
    stages: list[StageView]
    revalidation_stages: list[StageView]
    revalidation_interval_days: int
    required_model_card_fields: list[CardField]


class MetricThresholdView(Outbound):
    metric: str
    comparison: Comparison
    threshold: float
    severity: Severity
    tiers: list[int] = Field(default_factory=list)
    model_id: str | None = None
    segment: str | None = None

    def breached(self, value: float) -> bool:
        """Whether a data point of `value` breaches this threshold."""
        return _OPERATORS[self.comparison](value, self.threshold)

    def applies_to_segment(self, segment: str | None) -> bool:
        """Whether it holds a point of `segment` (None: a point without one)."""
        return self.segment is None or self.segment == segment

    def applies_to_tier(self, tier: int) -> bool:
        return not self.tiers or tier in self.tiers


class DueDaysView(Outbound):
    critical: int = DEFAULT_DUE_DAYS[Severity.CRITICAL]
    high: int = DEFAULT_DUE_DAYS[Severity.HIGH]
    medium: int = DEFAULT_DUE_DAYS[Severity.MEDIUM]
    low: int = DEFAULT_DUE_DAYS[Severity.LOW]


class Policy(Outbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**DEFAULT_BODY, "version": 1, "created_by": None, "created_at": None}]
        }
    )

    version: int = Field(description="1 is the defaults; every change is a new version")
    tiers: dict[str, TierView] = Field(description="By risk tier: 1, 2 and 3")
    escalation_contact_ids: list[str]
    required_model_card_fields_by_scope: dict[str, list[CardField]]
    # Defaults: a policy stored before these existed reads back with them.
    metric_thresholds: list[MetricThresholdView] = Field(default_factory=list)
    metrics_stale_after_days: int = STALE_AFTER_DAYS
    finding_due_days: DueDaysView = Field(default_factory=DueDaysView)
    metric_retention_days: int = RETENTION_DAYS
    created_by: str | None = Field(default=None, description="null for the defaults")
    created_at: datetime | None = None
    audit_anchor_retention_days: int = anchor_retention()  # stored before it: the default

    def tier(self, tier: int) -> TierView:
        return self.tiers[str(tier)]

    def thresholds_for(self, model_id: str, tier: int) -> list[MetricThresholdView]:
        """The thresholds a version of model `model_id`, of risk tier `tier`, is held to,
        in policy order: those of its tier (or of every tier), where for a metric that has
        thresholds naming this model those replace the ones naming none."""
        held = [
            t
            for t in self.metric_thresholds
            if t.applies_to_tier(tier) and t.model_id in (None, model_id)
        ]
        own = {t.metric for t in held if t.model_id is not None}
        return [t for t in held if t.model_id is not None or t.metric not in own]

    def due_days(self, severity: Severity | str) -> int:
        """Days from a finding's opening to its due date, for `severity`."""
        days: int = getattr(self.finding_due_days, Severity(severity).value)
        return days

    def required_fields(self, tier: int, scopes: list[str]) -> list[str]:
        """The model-card fields a version of a model of `tier` in `scopes` must fill."""
        fields = {str(f) for f in self.tier(tier).required_model_card_fields}
        for scope in scopes:
            fields |= {str(f) for f in self.required_model_card_fields_by_scope.get(scope, [])}
        return sorted(fields)


class PolicyList(ListPage):
    items: list[Policy]


def default_policy() -> Policy:
    """Version 1: the defaults, until the tenant's admin sets another."""
    return Policy.model_validate({**DEFAULT_BODY, "version": 1})


def check(body: PolicyBody) -> None:
    """Rules the schema cannot state (422, naming each offending field): a tier's stages
    have distinct names, its longest wait fits in one Step Functions execution, and no
    two metric thresholds hold the same metric, segment, model and tiers."""
    errors: list[FieldError] = []
    for tier in (1, 2, 3):
        policy = body.tiers.of(tier)
        for kind in ("stages", "revalidation_stages"):
            stages: list[PolicyStage] = getattr(policy, kind)
            where = f"body.tiers.{tier}.{kind}"
            names = [s.name.lower() for s in stages]
            for index, name in enumerate(names):
                if name in names[:index]:
                    errors.append(FieldError(f"{where}[{index}].name", "names another stage"))
            longest = sum(s.deadline_seconds + s.escalation_seconds for s in stages)
            if longest > MAX_EXECUTION_SECONDS:
                errors.append(
                    FieldError(
                        where,
                        f"the stages may wait {longest} s in all; a workflow runs at most "
                        f"{MAX_EXECUTION_SECONDS} s (one year)",
                    )
                )
    workflow = bool(errors)
    errors += _duplicate_thresholds(body.metric_thresholds)
    if errors:
        broken = "a rule of the workflow" if workflow else "a rule of its metric thresholds"
        raise DomainRuleError(f"the policy breaks {broken}", errors=errors)


def _duplicate_thresholds(thresholds: list[MetricThreshold]) -> list[FieldError]:
    """A threshold for the same metric, segment, model and tiers as an earlier one (no
    tiers and all three tiers are the same)."""
    errors, seen = [], set()
    for index, threshold in enumerate(thresholds):
        scope = (
            threshold.metric,
            threshold.segment,
            threshold.model_id,
            frozenset(threshold.tiers or ALL_TIERS),
        )
        if scope in seen:
            errors.append(
                FieldError(
                    f"body.metric_thresholds[{index}]",
                    "repeats the metric, segment, model and tiers of an earlier threshold",
                )
            )
        seen.add(scope)
    return errors


def stored(body: PolicyBody, version: int, created_by: str, created_at: str) -> dict[str, Any]:
    """The policy version as stored and answered."""
    data = body.model_dump(mode="json", by_alias=True)
    for tier in data["tiers"].values():
        tier["required_model_card_fields"] = sorted(set(tier["required_model_card_fields"]))
    data["required_model_card_fields_by_scope"] = {
        scope: sorted(set(fields))
        for scope, fields in data["required_model_card_fields_by_scope"].items()
    }
    data["escalation_contact_ids"] = list(dict.fromkeys(data["escalation_contact_ids"]))
    for threshold in data["metric_thresholds"]:
        threshold["tiers"] = sorted(set(threshold["tiers"]))
    return {**data, "version": version, "created_by": created_by, "created_at": created_at}
