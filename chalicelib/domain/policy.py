"""A tenant's approval policy: per risk tier, the ordered stages a version passes (name,
deciding role, quorum, deadline, escalation), the revalidation stages and interval, and the
model-card fields a submission needs, per tier and per regulatory scope. Versioned: every
change is a new version, and an approval request pins the version in force at submission.

Version 1 of every tenant is `DEFAULT` (the defaults below) until an admin sets another.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.domain.anchors import AnchorRetentionDays, anchor_retention
from chalicelib.domain.models import (
    SCOPE_PATTERN,
    Inbound,
    ListPage,
    Outbound,
    PrincipalId,
    Scope,
    WholeNumber,
)
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
}


class PolicyBody(Inbound):
    """The whole policy; PUT replaces it (a new version) with the ETag last read."""

    model_config = ConfigDict(json_schema_extra={"examples": [DEFAULT_BODY]})

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
    created_by: str | None = Field(default=None, description="null for the defaults")
    created_at: datetime | None = None
    audit_anchor_retention_days: int = anchor_retention()  # stored before it: the default

    def tier(self, tier: int) -> TierView:
        return self.tiers[str(tier)]

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
    have distinct names, and its longest wait fits in one Step Functions execution."""
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
    if errors:
        raise DomainRuleError("the policy breaks a rule of the workflow", errors=errors)


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
    return {**data, "version": version, "created_by": created_by, "created_at": created_at}
