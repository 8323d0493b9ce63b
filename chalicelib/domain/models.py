"""Request and response shapes, as pydantic models.

Inbound models forbid unknown fields and are strict about types (a string is
never coerced to a number); outbound models are what the API answers and what
the OpenAPI document describes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from chalicelib.domain.lifecycle import VersionStatus, tier_in_force
from chalicelib.domain.names import Name
from chalicelib.domain.roles import Role

Text = Annotated[str, StringConstraints(max_length=20_000)]
ShortText = Annotated[str, StringConstraints(max_length=2_000)]
# Explicit ASCII ranges rather than \s: Rust's regex (pydantic) and ECMA's (the JSON Schema
# clients validate with) disagree on which Unicode characters \s matches.
Email = Annotated[
    str,
    StringConstraints(
        max_length=320,
        pattern=r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$",
    ),
]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/=+-]+$")
]
SCOPE_PATTERN = r"^[a-z0-9][a-z0-9.-]*(:[a-z0-9.-]+)?$"  # a regulatory scope
Scope = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SCOPE_PATTERN)]
PrincipalId = Annotated[str, StringConstraints(pattern=r"^prn_[0-9A-HJKMNP-TV-Z]{26}$")]
ModelId = Annotated[str, StringConstraints(pattern=r"^mdl_[0-9A-HJKMNP-TV-Z]{26}$")]


def _whole_number(value: Any) -> Any:
    """JSON Schema counts 2.0 as an integer; so do we (strict mode would refuse it)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


RiskTier = Annotated[
    int, Field(ge=1, le=3, description="1 high, 2 medium, 3 low"), BeforeValidator(_whole_number)
]
WholeNumber = BeforeValidator(_whole_number)  # in an Annotated int: a JSON 2.0 counts as 2


# Fields a merge-patch may not null: the object cannot exist without them.
TENANT_NOT_NULL = frozenset({"name", "status"})
PRINCIPAL_NOT_NULL = frozenset({"name", "roles", "status"})
MODEL_NOT_NULL = frozenset({"name", "purpose", "owner_id", "developer_ids"})
CLASSIFICATION_ROUTE = "POST /v1/models/{model_id}/classification"


def patch_config(example: dict[str, Any], not_null: frozenset[str]) -> ConfigDict:
    """A merge-patch model's config: its example, and a schema in which the fields that
    cannot be cleared do not admit null (the service answers such a null with a 400)."""

    def schema_extra(schema: dict[str, Any]) -> None:
        schema["examples"] = [example]
        for name in not_null:
            prop = schema["properties"][name]
            choices = [c for c in prop.pop("anyOf", []) if c.get("type") != "null"]
            if choices:
                prop.update(choices[0] if len(choices) == 1 else {"anyOf": choices})
            prop.pop("default", None)

    return ConfigDict(json_schema_extra=schema_extra)


# defer_build: a class's validator is built on first use, not at import; a cold Lambda
# builds only the few a request touches.
class Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Outbound(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class ListPage(Outbound):
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end"
    )


# --- tenants -----------------------------------------------------------------


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class TenantCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Example Bank",
                    "admin_name": "Alice Admin",
                    "admin_email": "alice@bank.example",
                }
            ]
        }
    )

    name: Name
    admin_name: Name = Field(description="The tenant's first admin principal")
    admin_email: Email


class TenantPatch(Inbound):
    model_config = patch_config({"name": "Example Bank plc"}, TENANT_NOT_NULL)

    name: Name | None = None
    status: TenantStatus | None = None


class Tenant(Outbound):
    id: str
    name: str
    status: TenantStatus
    created_at: datetime
    updated_at: datetime
    revision: int


class TenantList(ListPage):
    items: list[Tenant]


# --- principals and keys -------------------------------------------------------


class PrincipalKind(StrEnum):
    PERSON = "person"
    SERVICE = "service"


class PrincipalStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class PrincipalCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Dana Developer", "email": "dana@bank.example", "roles": ["developer"]}
            ]
        }
    )

    name: Name
    email: Email | None = None
    kind: PrincipalKind = PrincipalKind.PERSON
    roles: list[Role] = Field(min_length=1, max_length=6)


class PrincipalPatch(Inbound):
    model_config = patch_config({"email": "dana.developer@bank.example"}, PRINCIPAL_NOT_NULL)

    name: Name | None = None
    email: Email | None = None
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=6)
    status: PrincipalStatus | None = None


class Principal(Outbound):
    id: str
    name: str
    email: str | None = None
    kind: PrincipalKind
    roles: list[Role]
    status: PrincipalStatus
    created_at: datetime
    updated_at: datetime
    revision: int


class PrincipalList(ListPage):
    items: list[Principal]


class ApiKeyCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"principal_id": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RS", "name": "CI pipeline"}]
        }
    )

    principal_id: PrincipalId
    name: Name
    expires_at: AwareDatetime | None = Field(
        default=None, description="Must be in the future, with a UTC offset"
    )


class ApiKeyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ApiKey(Outbound):
    id: str
    principal_id: str
    name: str
    status: ApiKeyStatus
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    issued_by: str | None = Field(
        default=None,
        description=(
            "Who issued the key: a principal id (the key's own principal when it rotated the"
            " key itself), `platform` for a tenant's first admin key and break-glass keys,"
            " null for a key issued before Custos recorded it. Only a key its principal"
            " issued or rotated itself may classify a model, decide an approval stage or"
            " accept a finding's risk"
        ),
    )
    rotated_from: str | None = Field(
        default=None, description="The key this one replaced, when it was made by a rotation"
    )


class ApiKeyCreated(ApiKey):
    secret: str | None = Field(
        description=(
            "The bearer token, shown once. An Idempotency-Key replay answers null here:"
            " Custos never stores a secret it could show again."
        )
    )


class ApiKeyList(ListPage):
    items: list[ApiKey]


class TenantCreated(Outbound):
    tenant: Tenant
    admin: Principal
    api_key: ApiKeyCreated


class AdminKeyIssue(Inbound):
    """Break-glass: the platform issues a key for one of a tenant's active admins."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "break-glass",
                    "reason": "The tenant's only admin lost every key (ticket OPS-1234)",
                }
            ]
        }
    )

    principal_id: PrincipalId | None = Field(
        default=None, description="The admin to issue it for; defaults to the earliest one"
    )
    name: Name
    reason: Annotated[str, StringConstraints(min_length=10, max_length=2_000)] = Field(
        description="Why the platform stepped in; kept in the tenant's audit trail"
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="At most 7 days ahead; defaults to 24 hours"
    )


class Me(Outbound):
    principal_id: str
    tenant_id: str | None = None
    key_id: str
    key_issued_by: str | None = Field(
        default=None, description="Who issued the key this request was made with"
    )
    own_key: bool = Field(
        default=False,
        description=(
            "Whether this key was issued or rotated by its own principal: only such a key may"
            " classify a model, decide an approval stage or accept a finding's risk"
            " (POST /v1/me/api-keys/{key_id}/rotate makes one)"
        ),
    )
    roles: list[Role]
    platform: bool
    name: str | None = None


# --- inventory ---------------------------------------------------------------


class ModelStatus(StrEnum):
    IN_DEVELOPMENT = "in_development"
    APPROVED = "approved"
    IN_PRODUCTION = "in_production"
    RETIRED = "retired"


class ModelFields(Inbound):
    """Descriptive fields of a model, shared by create and patch."""

    purpose: Text | None = None
    intended_use: Text | None = None
    restrictions: Text | None = None
    business_unit: ShortText | None = None
    source_system: ShortText | None = None
    external_id: ShortText | None = None
    inputs: list[ShortText] | None = Field(default=None, max_length=100)
    outputs: list[ShortText] | None = Field(default=None, max_length=100)
    upstream_model_ids: list[ModelId] | None = Field(default=None, max_length=20)
    tags: list[Tag] | None = Field(default=None, max_length=50)


class ModelCreate(ModelFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Retail PD",
                    "purpose": "Probability of default for retail loans",
                    "risk_tier": 1,
                    "regulatory_scope": ["sr-11-7"],
                    "tags": ["credit"],
                }
            ]
        }
    )

    name: Name
    purpose: Text
    risk_tier: RiskTier
    regulatory_scope: list[Scope] = Field(default_factory=list, max_length=20)
    owner_id: PrincipalId | None = Field(default=None, description="Defaults to the caller")
    developer_ids: list[PrincipalId] | None = Field(
        default=None, max_length=20, description="Defaults to the caller"
    )


class ModelPatch(ModelFields):
    """JSON merge-patch: absent fields stay, null clears an optional field. Risk tier and
    regulatory scope are a judgement, not a description: they are classified."""

    model_config = patch_config(
        {"purpose": "Probability of default for retail and SME loans"}, MODEL_NOT_NULL
    )
    # Fields this patch no longer takes, and where they are set now (the 400 says so).
    moved_fields: ClassVar[dict[str, str]] = {
        "risk_tier": f"set by {CLASSIFICATION_ROUTE}, not by PATCH",
        "regulatory_scope": f"set by {CLASSIFICATION_ROUTE}, not by PATCH",
    }

    name: Name | None = None
    owner_id: PrincipalId | None = None
    developer_ids: list[PrincipalId] | None = Field(default=None, max_length=20)


class ModelClassification(Inbound):
    """A validator's or approver's judgement of a model's risk: it confirms or changes the
    tier the registrant proposed, and sets the regulatory scope."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"risk_tier": 2, "regulatory_scope": ["sr-11-7"]}]}
    )

    risk_tier: RiskTier
    regulatory_scope: list[Scope] = Field(max_length=20)


class Model(Outbound):
    id: str
    name: str
    purpose: str
    intended_use: str | None = None
    restrictions: str | None = None
    owner_id: str
    developer_ids: list[str]
    business_unit: str | None = None
    risk_tier: int = Field(
        description=(
            "1 high, 2 medium, 3 low: the registrant's proposal until a validator or approver"
            " outside the team classifies the model, then the tier they confirmed"
        )
    )
    risk_tier_confirmed: bool = Field(
        default=False,
        description="Whether a validator or approver outside the team confirmed the tier",
    )
    risk_tier_in_force: int = Field(
        default=1,
        description=(
            "The tier the approval policy applies: the confirmed tier, else 1 (an unconfirmed"
            " tier never buys a lighter process); ?risk_tier= filters on it"
        ),
    )
    classified_by: str | None = Field(
        default=None, description="The principal who last classified the model"
    )
    classified_at: datetime | None = None
    regulatory_scope: list[str]
    source_system: str | None = None
    external_id: str | None = None
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    upstream_model_ids: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    past_team_ids: list[str] = Field(
        default_factory=list,
        description=(
            "Everyone who has been on the model's team, the registrant included; they may "
            "never classify it"
        ),
    )
    status: ModelStatus = Field(
        description="Derived: in_production while a production deployment is open, else"
        " approved while a version is approved, retired once every version is, else"
        " in_development"
    )
    version_count: int
    approved_versions: int = Field(default=0, description="Versions now approved")
    retired_versions: int = Field(default=0, description="Versions retired")
    production_deployments: int = Field(
        default=0, description="Production deployments of its versions now open"
    )
    created_by: str
    created_at: datetime
    updated_at: datetime
    revision: int

    @model_validator(mode="before")
    @classmethod
    def _tier_in_force(cls, data: Any) -> Any:
        """The tier in force follows from the tier and its confirmation, whatever is stored."""
        if isinstance(data, dict) and isinstance(data.get("risk_tier"), int):
            confirmed = bool(data.get("risk_tier_confirmed"))
            data = {**data, "risk_tier_in_force": tier_in_force(data["risk_tier"], confirmed)}
        return data


class ModelList(ListPage):
    items: list[Model]


class Lineage(Inbound):
    code_repository: ShortText | None = None
    commit: (
        Annotated[str, StringConstraints(max_length=64, pattern=r"^[0-9a-fA-F]{7,64}$")] | None
    ) = None
    training_data_ref: ShortText | None = None
    source_run: ShortText | None = None


class ModelCard(Inbound):
    """The sections of a model card (Mitchell et al., 2019)."""

    model_details: Text | None = None
    intended_use: Text | None = None
    factors: Text | None = None
    metrics: Text | None = None
    evaluation_data: Text | None = None
    training_data: Text | None = None
    quantitative_analyses: Text | None = None
    ethical_considerations: Text | None = None
    caveats_and_recommendations: Text | None = None


class VersionCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "description": "Quarterly refit",
                    "lineage": {"code_repository": "https://git.example/pd", "commit": "9fceb02"},
                    "model_card": {
                        "intended_use": "Retail credit decisions",
                        "metrics": "AUC 0.81 on the 2025 holdout",
                    },
                }
            ]
        }
    )

    description: Text | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    model_card: ModelCard = Field(default_factory=ModelCard)


class VersionPatch(Inbound):
    """Merge-patch of a draft version; lineage is an immutable fact of the version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"model_card": {"metrics": "AUC 0.81 on the 2025 holdout"}}]
        }
    )

    description: Text | None = None
    model_card: ModelCard | None = None


class FrozenArtifact(Outbound):
    """An artifact as a submission froze it: what an approval approves."""

    name: str
    kind: str
    size: int
    sha256: str
    s3_version_id: str | None


class VersionApproval(Outbound):
    """What approved a version: its request, the pinned policy, the artifacts approved
    (digest and S3 object version each), the conditions of use and when it lapses."""

    request_id: str
    policy_version: int
    approved_at: datetime
    artifacts: list[FrozenArtifact]
    conditions: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None


class Version(Outbound):
    id: str
    model_id: str
    number: int
    status: VersionStatus
    description: str | None = None
    lineage: dict[str, Any]
    model_card: dict[str, Any]
    approval_request_id: str | None = Field(
        default=None, description="The approval request it was last submitted with"
    )
    approval: VersionApproval | None = Field(default=None, description="Once approved")
    revalidation_request_id: str | None = Field(
        default=None, description="The revalidation under way, while one is"
    )
    revalidated_at: datetime | None = Field(default=None, description="Its last revalidation")
    revalidation_due_at: datetime | None = Field(
        default=None,
        description="When it is due for revalidation: its policy's interval for the tier after"
        " its approval, or after its last revalidation",
    )
    retired_at: datetime | None = None
    retired_by: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    revision: int


class VersionList(ListPage):
    items: list[Version]


# --- audit -------------------------------------------------------------------


class AuditActor(Outbound):
    kind: str = Field(description="principal, platform or system")
    principal_id: str | None = Field(default=None, description="For principals and the platform")
    key_id: str | None = Field(default=None, description="The API key the change was made with")
    key_issued_by: str | None = Field(
        default=None,
        description=(
            "For principals: who issued that key (the principal itself when it issued or"
            " rotated it; `platform`; null when the key predates the record)"
        ),
    )
    system: str | None = Field(
        default=None,
        description=(
            "For system actors: scheduler, workflow, scan, webhook-delivery, relay, verifier or"
            " exporter"
        ),
    )


class AuditSubject(Outbound):
    type: str
    id: str


class AuditEvent(Outbound):
    seq: int
    id: str
    time: datetime
    action: str
    actor: AuditActor
    subject: AuditSubject
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str
    prev_hash: str
    hash: str


class AuditEventList(ListPage):
    items: list[AuditEvent]


class AuditVerification(Outbound):
    valid: bool
    head_seq: int = Field(description="Sequence number of the chain head")
    verified_from: int = Field(description="First sequence number checked by this call")
    verified_to: int = Field(description="Last sequence number known good")
    complete: bool = Field(description="False when the call stopped early; call again to go on")
    first_bad_seq: int | None = None
    reason: str | None = None


class Health(Outbound):
    status: str
    version: str
