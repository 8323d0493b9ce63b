"""Approval requests: a version submitted for approval (or revalidation), read one, list
them, the inbox.

A submission checks what the policy in force asks of the version (every artifact verified,
the required model-card fields filled, per tier and regulatory scope), then, in one unit
of work, moves the version to `submitted` (which freezes its artifacts) and creates the
request with the policy's stages for the model's tier, announced as `approval.submitted`:
the workflow starts from that event (`services.workflow.start`), never from the request.
A revalidation takes an approved version through its tier's revalidation stages; the
version stays approved (and deployable) meanwhile, linked to the request.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import duties, events, lifecycle
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import (
    ApprovalRequest,
    RequestKind,
    RequestStatus,
    StageStatus,
    SubmissionCreate,
)
from chalicelib.domain.artifacts import ArtifactStatus
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.models import Model, Version
from chalicelib.domain.policy import Policy, default_policy
from chalicelib.domain.roles import Role
from chalicelib.errors import (
    ConflictError,
    DomainRuleError,
    FieldError,
    NotFoundError,
    TransientConflictError,
)
from chalicelib.services.inventory import team, version_number
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

ATTEMPTS = 5
ARTIFACT_PAGES = 10  # of 100: a version's artifacts, read whole at submission
DECIDING_ROLES = (Role.VALIDATOR, Role.APPROVER)
FILTERED = ("status", "model_id")  # what a list of requests is filtered by


def submit(
    actor: Actor, model_id: str, number: str, body: SubmissionCreate, claim: Claim | None = None
) -> ApprovalRequest:
    """Submit a draft version for approval, or an approved one for revalidation (see the
    module docstring). 404 for a version that is not the tenant's, 403 off the model's team,
    409 unless it is a draft (approval) or approved with no revalidation under way, 422
    listing every artifact not verified and every required model-card field missing."""
    store = for_actor(actor)
    n = version_number(number) if is_id(model_id, "model") else None
    if n is None:
        raise NotFoundError(f"no version {number} of model {model_id}")
    keys = store.keys
    for _ in range(ATTEMPTS):
        model_item, version_item, policy_item = store.get_many(
            [keys.model(model_id), keys.version(model_id, n), keys.policy_current()]
        )
        if model_item is None or version_item is None:
            raise NotFoundError(f"no version {number} of model {model_id}")
        model, version = to_model(Model, model_item), to_model(Version, version_item)
        duties.require_team_developer(actor, team(model), "submit its versions for approval")
        revalidation = body.kind == RequestKind.REVALIDATION
        status = _submitted_status(version, revalidation)
        policy = to_model(Policy, policy_item) if policy_item else default_policy()
        artifacts = _artifacts(store, model_id, n)
        if not revalidation:  # an approved version's documentation is what was approved
            _check_ready(version, artifacts, policy, model)
        at = timestamp()
        request = _request(actor, model, version, policy, artifacts, at, RequestKind(body.kind))
        link = "revalidation_request_id" if revalidation else "approval_request_id"
        submitted = Version.model_validate(
            {
                **public(version),
                "status": status,
                link: request.id,
                "updated_at": at,
                "revision": version.revision + 1,
            }
        )
        unit = UnitOfWork()
        if revalidation:
            moved = store.inventory.put_moved_version(
                public(submitted), version.revision, version.status
            )
        else:
            moved = store.inventory.put_submitted_version(
                public(submitted), version.revision, version_item.get("artifact_changes")
            )
        # Changed (or its artifacts did) since it was read: look again.
        unit.add("version", moved, RetryError)
        unit.add("request", store.approvals.put_new(public(request)))
        unit.record(
            "approval.submitted",
            "approval_request",
            request.id,
            before={"version_status": version.status},
            after={**public(request), "version_status": status},
        )
        unit.emit(events.APPROVAL_SUBMITTED.of(request))
        unit.replay_answer(claim.response(request) if claim else None)
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return request
    raise TransientConflictError("the version is changing concurrently; retry")


def _submitted_status(version: Version, revalidation: bool) -> lifecycle.VersionStatus:
    """The version's status once submitted: `submitted` for an approval (409 unless it is
    a draft); for a revalidation it stays approved (409 unless it is, with none under way)."""
    if not revalidation:
        return lifecycle.transition(
            version.status, lifecycle.VersionStatus.SUBMITTED, {lifecycle.Mover.TEAM}
        )
    if version.status is not lifecycle.VersionStatus.APPROVED:
        raise ConflictError(
            f"version {version.number} is {version.status}; only approved versions are revalidated"
        )
    if version.revalidation_request_id:
        raise ConflictError(
            f"version {version.number} is being revalidated already"
            f" ({version.revalidation_request_id})"
        )
    return version.status


def policy_tier(model: Model) -> int:
    """The risk tier whose stages and required fields a submission of `model` follows.

    The tier the model carries. Once classification lands, a tier nobody outside the team
    has confirmed counts as tier 1 here, so an unconfirmed tier never buys a lighter
    process: this is the one place that decides it."""
    return model.risk_tier


def _artifacts(store: TenantStore, model_id: str, number: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    start = None
    for _ in range(ARTIFACT_PAGES):
        items, start = store.artifacts.list_page(model_id, number, 100, start)
        found += items
        if not start:
            return found
    raise DomainRuleError(f"version {number} has more artifacts than a submission reads")


def _check_ready(
    version: Version, artifacts: list[dict[str, Any]], policy: Policy, model: Model
) -> None:
    """422 naming each artifact not verified and each model-card field the policy requires
    (for the model's tier and regulatory scopes) that the version leaves empty."""
    errors = [
        FieldError(f"artifacts.{a['name']}", f"is {a['status']}: only verified artifacts count")
        for a in artifacts
        if a["status"] != ArtifactStatus.VERIFIED
    ]
    card, tier = version.model_card, policy_tier(model)
    for field in policy.required_fields(tier, model.regulatory_scope):
        if not str(card.get(field) or "").strip():
            errors.append(
                FieldError(
                    f"model_card.{field}",
                    f"required by policy version {policy.version} for tier {tier}",
                )
            )
    if errors:
        raise DomainRuleError(
            f"version {version.number} is not ready for approval: "
            + ", ".join(e.field for e in errors),
            errors=errors,
        )


def _request(
    actor: Actor,
    model: Model,
    version: Version,
    policy: Policy,
    artifacts: list[dict[str, Any]],
    at: str,
    kind: RequestKind,
) -> ApprovalRequest:
    tier = policy_tier(model)
    pinned = policy.tier(tier)
    runs = pinned.revalidation_stages if kind is RequestKind.REVALIDATION else pinned.stages
    stages = [
        {**s.model_dump(mode="json"), "index": i, "status": StageStatus.WAITING, "decisions": []}
        for i, s in enumerate(runs)
    ]
    submitter = str(actor.principal_id)
    ineligible = sorted({submitter, *team(model), *model.past_team_ids})
    return ApprovalRequest.model_validate(
        {
            "id": new_id("approval_request"),
            "kind": kind,
            "model_id": model.id,
            "version_number": version.number,
            "status": RequestStatus.PENDING,
            "policy_version": policy.version,
            "risk_tier": tier,
            "revalidation_interval_days": pinned.revalidation_interval_days,
            "stages": stages,
            "artifacts": [
                {k: a.get(k) for k in ("name", "kind", "size", "sha256", "s3_version_id")}
                for a in artifacts
            ],
            "escalation_contact_ids": policy.escalation_contact_ids,
            "ineligible_ids": ineligible,
            "submitted_by": submitter,
            "submitted_with_key": str(actor.key_id),
            "history": [{"at": at, "action": "submitted", "by": submitter}],
            "created_at": at,
            "updated_at": at,
            "revision": 1,
        }
    )


def get_request(actor: Actor, request_id: str) -> ApprovalRequest:
    """One of the tenant's requests (404 for any other); it never holds a task token."""
    store = for_actor(actor)
    item = store.approvals.get(request_id) if is_id(request_id, "approval_request") else None
    if item is None:
        raise NotFoundError(f"no approval request {request_id}")
    return to_model(ApprovalRequest, item)


def list_requests(
    actor: Actor, limit: int, cursor_text: str | None, query: dict[str, Any]
) -> tuple[list[ApprovalRequest], str | None]:
    """A page of the tenant's requests, newest first (by `status`, `model_id`); with
    `actionable=true`, the caller's inbox instead: the requests whose open stage the caller
    may decide, earliest deadline first."""
    store = for_actor(actor)
    if query.get("actionable") == "true":
        roles = sorted(str(r) for r in DECIDING_ROLES if actor.has_any(r))
        me = str(actor.principal_id)
        if not roles:
            return [], None
        items, next_cursor = store.page(
            lambda n, start: store.approvals.inbox_page(n, start, roles, me),
            query="inbox",
            limit=limit,
            cursor_text=cursor_text,
            filtered=True,
            key_attrs=("pk", "sk", "gsi1pk", "gsi1sk"),
            me=me,
            roles=",".join(roles),
        )
    else:
        filters: dict[str, str] = {k: str(query[k]) for k in FILTERED if k in query}
        items, next_cursor = store.page(
            lambda n, start: store.approvals.list_page(n, start, filters),
            query="approval-requests",
            limit=limit,
            cursor_text=cursor_text,
            filtered=bool(filters),
            status=filters.get("status"),
            model_id=filters.get("model_id"),
        )
    return [to_model(ApprovalRequest, i) for i in items], next_cursor
