"""Deployments: recording where a version runs, ending it, and reading the history.

Any environment takes a version that is not retired; production takes only an approved
version (one under revalidation still is) whose approval has not lapsed and whose
artifacts in S3 are still exactly the object versions the approval recorded. Who records
them: the model's team (developers), monitors (the service accounts that report
deployments from a pipeline) and admins; the gate to production is the approval and the
artifact check, the same whoever records it.

A deployment is never deleted: ending one sets its valid-until, and the history answers
"what ran where at time X". A production deployment opening or ending changes the model's
derived status, in the same unit of work (`services.standing`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from chalicelib.domain import duties, events, lifecycle
from chalicelib.domain.actors import Actor
from chalicelib.domain.deployments import Deployment, DeploymentCreate, Environment
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.models import Model, Version
from chalicelib.domain.roles import Role
from chalicelib.errors import (
    ConflictError,
    DomainRuleError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    TransientConflictError,
)
from chalicelib.services import findings, standing
from chalicelib.services.inventory import version_number
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

ATTEMPTS = 25
V = lifecycle.VersionStatus
# Recording deployments is the team's, or a monitor's or admin's for any model.
ANY_MODEL = (Role.ADMIN, Role.MONITOR)


def read_version(
    store: TenantStore,
    model_id: str,
    number: str,
    deployment_id: str | None = None,
    counts: list[dict[str, Any] | None] | None = None,
) -> tuple[Model, Version, Deployment | None]:
    """The model, its version `number` and (when named) one of its deployments, in one
    BatchGetItem; 404 unless all are the tenant's. With `counts`, the model's findings
    counts are read in the same call and appended to it."""
    n = version_number(number)
    if n is None or not is_id(model_id, "model"):
        raise NotFoundError(f"no version {number} of model {model_id}")
    keys = [store.keys.model(model_id), store.keys.version(model_id, n)]
    if deployment_id is not None:
        if not is_id(deployment_id, "deployment"):
            raise NotFoundError(f"no deployment {deployment_id} of version {number}")
        keys.append(store.keys.deployment(model_id, n, deployment_id))
    if counts is not None:
        keys.append(store.findings.summary_key(model_id))
    found = store.get_many(keys)
    if counts is not None:
        counts.append(found.pop())
    if found[0] is None or found[1] is None:
        raise NotFoundError(f"no version {number} of model {model_id}")
    if deployment_id is not None and found[2] is None:
        raise NotFoundError(f"no deployment {deployment_id} of version {number}")
    deployment = to_model(Deployment, found[2]) if deployment_id is not None and found[2] else None
    return to_model(Model, found[0]), to_model(Version, found[1]), deployment


def require_recorder(actor: Actor, model: Model) -> None:
    """403 unless the actor may record the model's deployments (see the module docstring)."""
    if actor.has_any(*ANY_MODEL):
        return
    members = duties.team(model.owner_id, model.developer_ids)
    if not duties.on_team(actor, members) or not actor.has_any(duties.TEAM_ROLE):
        raise ForbiddenError(
            "only the model's team (developers), monitors or admins record its deployments"
        )


def deploy(
    actor: Actor, model_id: str, number: str, body: DeploymentCreate, claim: Claim | None = None
) -> Deployment:
    """Record that version `number` runs in `body.environment` at `body.target`."""
    store = for_actor(actor)
    for _ in range(ATTEMPTS):
        counts: list[dict[str, Any] | None] = []
        model, version, _ = read_version(store, model_id, number, counts=counts)
        require_recorder(actor, model)
        production = body.environment is Environment.PRODUCTION
        if version.status is V.RETIRED:
            raise ConflictError(f"version {version.number} is retired; it takes no deployments")
        if production:
            require_deployable(store, version)
            findings.require_unblocked(store, model.id, version.number, counts[0])
        at = timestamp()
        deployment = Deployment.model_validate(
            {
                "id": new_id("deployment"),
                "model_id": model.id,
                "version_number": version.number,
                "version_id": version.id,
                **body.model_dump(mode="json", exclude_none=True),
                "approval_request_id": version.approval.request_id
                if production and version.approval
                else None,
                "since": at,
                "deployed_by": actor.principal_id,
            }
        )
        unit = UnitOfWork()
        unit.add("deployment", store.deployments.put_new(public(deployment)))
        unit.add(
            "target",
            store.deployments.claim_target(public(deployment)),
            partial(_already_open, store, deployment),
        )
        # The version is still what was read (approved, or at least not retired), checked
        # in the same transaction: a retirement or rejection cannot slip between.
        statuses = (V.APPROVED.value,) if production else (V.RETIRED.value,)
        unit.add(
            "version",
            store.inventory.check_version_status(
                model.id, version.number, statuses, negate=not production
            ),
            RetryError,
        )
        if production:  # a finding opened meanwhile blocks it too: read again, and refuse
            unit.add(
                "findings", store.findings.check_unblocked(model.id, version.number), RetryError
            )
        moved = standing.standing_of(model).deployed(body.environment, +1)
        restated = standing.restate(store, unit, model, moved, at)
        unit.record(
            events.VERSION_DEPLOYED.name,
            "deployment",
            deployment.id,
            **standing.noted(model, restated, (None, public(deployment))),
        )
        unit.emit(events.VERSION_DEPLOYED.of(deployment))
        unit.replay_answer(claim.response(deployment) if claim else None)
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return deployment
    raise TransientConflictError("the model changed too often meanwhile; retry")


def _already_open(store: TenantStore, deployment: Deployment) -> Exception:
    """Why a deployment could not claim its target: another one holds it open."""
    holder = store.deployments.holding_target(public(deployment))
    if holder is None:  # ended meanwhile: the caller's retry will find it free
        return RetryError()
    return ConflictError(
        f"version {deployment.version_number} already runs in {deployment.environment} at"
        f" {deployment.target}: deployment {holder}; end it first",
        errors=[FieldError("body.target", f"held open by {holder}")],
    )


def require_deployable(store: TenantStore, version: Version) -> None:
    """409 unless the version is approved (and its approval has not lapsed); 422 naming
    each artifact whose object in S3 is no longer the approved one."""
    approval = version.approval
    if version.status is not V.APPROVED or approval is None:
        raise ConflictError(
            f"version {version.number} is {version.status}; production takes only an"
            " approved version"
        )
    if approval.expires_at is not None and approval.expires_at <= datetime.now(UTC):
        raise ConflictError(
            f"the approval of version {version.number} lapsed at"
            f" {approval.expires_at.isoformat()}; it needs a new approval"
        )
    mismatches = []
    for artifact in approval.artifacts:
        where = f"artifacts.{artifact.name}"
        key = store.objects.key(version.model_id, version.number, artifact.name)
        current = store.objects.head(key)
        if artifact.s3_version_id is None:
            problem = "the approval recorded no object version for it"
        elif current is None:
            problem = "its object was deleted from S3 after the approval"
        elif current.version_id != artifact.s3_version_id:
            problem = (
                f"its object in S3 is version {current.version_id}, not the approved"
                f" {artifact.s3_version_id}"
            )
        else:
            continue
        mismatches.append(FieldError(where, problem))
    if mismatches:
        names = ", ".join(m.field.removeprefix("artifacts.") for m in mismatches)
        raise DomainRuleError(
            f"artifacts no longer match what was approved: {names}", errors=mismatches
        )


def get_deployment(actor: Actor, model_id: str, number: str, deployment_id: str) -> Deployment:
    """One deployment of a version (one GetItem: its key holds the model and number)."""
    store = for_actor(actor)
    n = version_number(number)
    item = None
    if n is not None and is_id(model_id, "model") and is_id(deployment_id, "deployment"):
        item = store.deployments.get(model_id, n, deployment_id)
    if item is None:
        raise NotFoundError(f"no deployment {deployment_id} of version {number}")
    return to_model(Deployment, item)


def end_deployment(actor: Actor, model_id: str, number: str, deployment_id: str) -> None:
    """End a deployment: its valid-until is now; the history keeps it.

    Ending one that has ended already changes nothing and succeeds (DELETE is idempotent,
    as revoking a revoked key is): the deployment still exists, in the history, so a 404
    would say something false, and a client whose first answer was lost may retry safely.
    """
    store = for_actor(actor)
    for _ in range(ATTEMPTS):
        model, _, found = read_version(store, model_id, number, deployment_id)
        if found is None:  # read_version answers 404 first; this tells mypy
            raise NotFoundError(f"no deployment {deployment_id} of version {number}")
        require_recorder(actor, model)
        if found.until is not None:
            return
        at = timestamp()
        ended = Deployment.model_validate(
            {**public(found), "until": at, "ended_by": actor.principal_id}
        )
        unit = UnitOfWork()
        unit.add(
            "deployment",
            store.deployments.end(public(found), at, str(actor.principal_id)),
            RetryError,
        )
        unit.add("target", store.deployments.release_target(public(found)), RetryError)
        moved = standing.standing_of(model).deployed(found.environment, -1)
        restated = standing.restate(store, unit, model, moved, at)
        unit.record(
            events.VERSION_UNDEPLOYED.name,
            "deployment",
            found.id,
            **standing.noted(
                model,
                restated,
                ({"until": None}, {"until": at, "ended_by": actor.principal_id}),
            ),
        )
        unit.emit(events.VERSION_UNDEPLOYED.of(ended))
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return
    raise TransientConflictError("the model changed too often meanwhile; retry")


def list_deployments(
    actor: Actor,
    model_id: str,
    number: str,
    limit: int,
    cursor_text: str | None,
    *,
    environment: Environment | None = None,
    open_only: bool | None = None,
    at: datetime | None = None,
) -> tuple[list[Deployment], str | None]:
    """A page of a version's deployments, oldest first, optionally of one environment,
    open or ended, or in force at `at`."""
    store = for_actor(actor)
    n = version_number(number)
    if n is None or not is_id(model_id, "model"):
        raise NotFoundError(f"no version {number} of model {model_id}")
    env = environment.value if environment is not None else None
    filtered = env is not None or open_only is not None or at is not None
    items, next_cursor = store.page(
        lambda size, start: store.deployments.list_page(
            model_id, n, size, start, environment=env, open_only=open_only, at=at
        ),
        query="deployments",
        limit=limit,
        cursor_text=cursor_text,
        filtered=filtered,
        model=model_id,
        number=n,
        environment=env,
        open=open_only,
        at=at.isoformat() if at else None,
    )
    if not items and cursor_text is None and store.inventory.get_version(model_id, n) is None:
        # an empty first page: 404 if the version is not ours (one GetItem; a version's
        # model is the tenant's if the version is)
        raise NotFoundError(f"no version {number} of model {model_id}")
    return [to_model(Deployment, i) for i in items], next_cursor
