"""The catalog of domain events: every event type Custos emits, declared once.

Each type names the pydantic model of its payload (`data`). The outbox writes only events
made here (`EventType.of` checks the payload's type), and the OpenAPI document's `webhooks`
section is generated from this catalog, so receivers read the same schemas the code emits.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pydantic import BaseModel

from chalicelib.domain import anchors as anc
from chalicelib.domain import approvals as a
from chalicelib.domain import artifacts as art
from chalicelib.domain import deployments as dep
from chalicelib.domain import evidence as ev
from chalicelib.domain import exports as exp
from chalicelib.domain import findings as fnd
from chalicelib.domain import models as m
from chalicelib.domain import policy as pol
from chalicelib.domain import webhooks as wh


class DomainEvent(NamedTuple):
    """An event of a declared type, its payload already in JSON form; `id` is given when
    the change must answer it (else the outbox names it)."""

    type: str
    data: dict[str, Any]
    id: str | None = None


class EventType(NamedTuple):
    """One declared event type and the model of its payload."""

    name: str
    payload: type[BaseModel]
    description: str
    # Internal events drive Custos's own consumers: no webhook subscription takes them,
    # and the OpenAPI document's catalog leaves them out.
    internal: bool = False

    def of(self, payload: BaseModel, event_id: str | None = None) -> DomainEvent:
        """An event of this type carrying `payload`, which must be of the declared model."""
        if not isinstance(payload, self.payload):
            raise TypeError(
                f"{self.name} carries a {self.payload.__name__}, not {type(payload).__name__}"
            )
        return DomainEvent(self.name, payload.model_dump(mode="json"), event_id)


CATALOG: dict[str, EventType] = {}


def declare(
    name: str, payload: type[BaseModel], description: str, *, internal: bool = False
) -> EventType:
    """Add an event type to the catalog (once per name)."""
    if name in CATALOG:
        raise ValueError(f"event type {name} is declared twice")
    CATALOG[name] = EventType(name, payload, description, internal)
    return CATALOG[name]


def deliverable() -> list[EventType]:
    """The event types webhook subscriptions may take (every one but the internal)."""
    return [kind for kind in CATALOG.values() if not kind.internal]


TENANT_CREATED = declare("tenant.created", m.Tenant, "The platform created a tenant")
TENANT_UPDATED = declare("tenant.updated", m.Tenant, "A tenant was renamed")
TENANT_SUSPENDED = declare("tenant.suspended", m.Tenant, "A tenant was suspended")
TENANT_REACTIVATED = declare("tenant.reactivated", m.Tenant, "A tenant was reactivated")
ADMIN_KEY_ISSUED = declare(
    "tenant.admin_key_issued",
    m.ApiKey,
    "The platform operator issued a break-glass key for one of the tenant's admins",
)
PRINCIPAL_CREATED = declare("principal.created", m.Principal, "A principal was added")
PRINCIPAL_UPDATED = declare("principal.updated", m.Principal, "A principal was renamed")
PRINCIPAL_ROLES_CHANGED = declare(
    "principal.roles_changed", m.Principal, "A principal's roles changed"
)
PRINCIPAL_DEACTIVATED = declare(
    "principal.deactivated", m.Principal, "A principal was deactivated; its keys stop working"
)
API_KEY_CREATED = declare("api_key.created", m.ApiKey, "An API key was issued")
API_KEY_REVOKED = declare("api_key.revoked", m.ApiKey, "An API key was revoked")
API_KEY_ROTATED = declare(
    "api_key.rotated",
    m.ApiKey,
    "A principal replaced one of its own API keys: the new key is its own, the old is revoked",
)
MODEL_CREATED = declare("model.created", m.Model, "A model was registered")
MODEL_UPDATED = declare("model.updated", m.Model, "A model's descriptive fields changed")
MODEL_CLASSIFIED = declare(
    "model.classified",
    m.Model,
    "A validator or approver outside the team confirmed or changed a model's risk tier and"
    " regulatory scope",
)
POLICY_UPDATED = declare(
    "policy.updated", pol.Policy, "An admin set a new version of the approval policy"
)
VERSION_CREATED = declare("version.created", m.Version, "A draft version was registered")
VERSION_UPDATED = declare("version.updated", m.Version, "A draft version changed")
VERSION_DEPLOYED = declare(
    "version.deployed", dep.Deployment, "A version was recorded as running in an environment"
)
VERSION_UNDEPLOYED = declare(
    "version.undeployed", dep.Deployment, "A deployment ended: the version no longer runs there"
)
VERSION_RETIRED = declare(
    "version.retired", m.Version, "A version was retired; it takes no new deployments"
)
APPROVAL_SUBMITTED = declare(
    "approval.submitted", a.ApprovalRequest, "A version was submitted; its workflow starts"
)
APPROVAL_REQUESTED = declare(
    "approval.requested",
    a.StageOpened,
    "A stage of an approval request is open for decisions; `deciders` names who may decide it",
)
APPROVAL_DECIDED = declare(
    "approval.decided",
    a.DecisionRecorded,
    "A decider approved or rejected a stage; `stage_closed` when it met the quorum or rejected",
)
APPROVAL_ESCALATED = declare(
    "approval.escalated",
    a.StageEscalated,
    "A stage passed its deadline undecided: its `deciders` and `escalation_contacts` are told",
)
APPROVAL_APPROVED = declare(
    "approval.approved",
    a.ApprovalRequest,
    "Every stage reached its quorum: the version is approved",
)
APPROVAL_REJECTED = declare(
    "approval.rejected", a.ApprovalRequest, "A stage was rejected: the version is rejected"
)
APPROVAL_EXPIRED = declare(
    "approval.expired",
    a.ApprovalRequest,
    "A stage passed its escalated deadline undecided: the request expired, the version is a"
    " draft again",
)
APPROVAL_EVIDENCE_ADDED = declare(
    "approval.evidence_added",
    ev.EvidenceView,
    "A decider added an evidence file to a stage; it counts once verified",
)
APPROVAL_EVIDENCE_VERIFIED = declare(
    "approval.evidence_verified",
    ev.EvidenceView,
    "Custos read an evidence file's bytes and found what was registered",
)
APPROVAL_EVIDENCE_VERIFICATION_REQUESTED = declare(
    "approval.evidence_verification_requested",
    ev.EvidenceView,
    "An evidence file above the size verified in the call is uploaded: the verifier reads it",
)
APPROVAL_EVIDENCE_MISMATCHED = declare(
    "approval.evidence_mismatched",
    ev.EvidenceView,
    "The verifier read an evidence file and found other bytes than were registered",
)
APPROVAL_COMMENTED = declare(
    "approval.commented", ev.CommentAdded, "Someone deciding a request commented on it"
)
APPROVAL_CANCELLED = declare(
    "approval.cancelled",
    a.ApprovalRequest,
    "The submitter withdrew a request before it was decided; an approval's version is a draft"
    " again",
)
VERSION_REOPENED = declare(
    "version.reopened", m.Version, "A rejected version is a draft again, for its team to fix"
)
ARTIFACT_REGISTERED = declare(
    "artifact.registered", art.Artifact, "An artifact was registered on a draft version"
)
ARTIFACT_REPLACED = declare(
    "artifact.replaced",
    art.Artifact,
    "An artifact was registered again before submission: the new record replaces the old",
)
ARTIFACT_VERIFICATION_REQUESTED = declare(
    "artifact.verification_requested",
    art.Artifact,
    "An uploaded artifact is too large to verify in the call; the verifier will read it",
)
ARTIFACT_VERIFIED = declare(
    "artifact.verified",
    art.Artifact,
    "Custos read the artifact and computed the registered SHA-256 and size",
)
ARTIFACT_REJECTED = declare(
    "artifact.rejected",
    art.Artifact,
    "Custos read the artifact and its SHA-256 or size differs from the registration",
)
WEBHOOK_CREATED = declare("webhook.created", wh.Webhook, "An admin added a webhook subscription")
WEBHOOK_UPDATED = declare(
    "webhook.updated", wh.Webhook, "A webhook subscription's URL, events or state changed"
)
WEBHOOK_DELETED = declare("webhook.deleted", wh.Webhook, "A webhook subscription was deleted")
WEBHOOK_SECRET_ROTATED = declare(
    "webhook.secret_rotated",
    wh.Webhook,
    "A subscription's signing secret was replaced; the old one signs too until"
    " `previous_secret_expires_at`",
)
WEBHOOK_DISABLED = declare(
    "webhook.disabled",
    wh.Webhook,
    "Custos disabled a subscription: its receiver answered 410 Gone, or every delivery failed"
    " for three days (`disabled_reason`). Sent to the tenant's other subscriptions",
)
WEBHOOK_TEST = declare(
    "webhook.test",
    wh.WebhookTest,
    "Sent on request (`POST /v1/webhooks/{webhook_id}/test`), to that subscription only",
)
WEBHOOK_REDELIVERY_REQUESTED = declare(
    "webhook.redelivery_requested",
    wh.Redelivery,
    "An admin asked for a delivery to be attempted again now",
    internal=True,
)
EXPORT_REQUESTED = declare(
    "export.requested",
    exp.Export,
    "Someone asked for an export: the exporter writes its file",
    internal=True,
)
FINDING_OPENED = declare(
    "finding.opened",
    fnd.Finding,
    "A finding opened: a scan rule saw its condition, a validator raised it, or it reopened"
    " (its condition held again after a resolution, or its risk acceptance expired)",
)
FINDING_RESOLVED = declare(
    "finding.resolved",
    fnd.Finding,
    "A finding was resolved: its condition cleared at a scan, or a validator resolved it",
)
FINDING_ACCEPTED = declare(
    "finding.accepted",
    fnd.Finding,
    "An approver outside the model's team accepted a finding's risk until an expiry",
)
REVALIDATION_DUE = declare(
    "revalidation.due",
    fnd.RevalidationDue,
    "A version's revalidation falls due within 30 days (a scan saw it first)",
)
COMPLIANCE_SCAN_REQUESTED = declare(
    "compliance_scan.requested",
    fnd.ScanRequested,
    "Someone asked for a compliance scan of the tenant now",
    internal=True,
)
AUDIT_ANCHORED = declare(
    "audit.anchored",
    anc.AuditAnchor,
    "The tenant's audit chain head was written to S3 under Object Lock (compliance mode):"
    " the chain up to `seq` can be checked against it. Not itself an audit event",
)
