"""Findings through the API: reading them, a validator raising one, an approver accepting
its risk, a validator resolving it; and the check that open critical or high findings
block a version's decisions and production deployments.

Who may act on a finding is a question of independence, as for approvals: accepting a
risk or resolving a finding is done by someone outside the model's team (its owner and
developers), and accepting a risk is a risk judgement, so it takes the approver's own key
(`duties.require_own_key`), as a decision does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import duties, events
from chalicelib.domain.actors import Actor
from chalicelib.domain.findings import (
    MAX_ACCEPTANCE_DAYS,
    Finding,
    FindingAcceptance,
    FindingCreate,
    FindingKind,
    FindingResolution,
    FindingStatus,
)
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.models import Model
from chalicelib.domain.roles import Role
from chalicelib.domain.severity import Severity
from chalicelib.errors import (
    ConflictError,
    DomainRuleError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    TransientConflictError,
)
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.findings import count_deltas
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

ATTEMPTS = 10


def due_at(store: TenantStore, severity: Severity, opened: datetime) -> str:
    """When a finding of `severity` opened at `opened` falls due under the policy."""
    from chalicelib.services.policy import in_force

    return (opened + timedelta(days=due_days(in_force(store), severity))).isoformat()


def due_days(policy: Any, severity: Severity) -> int:
    """The policy's days to close a finding of `severity` (the defaults where it has none)."""
    from chalicelib.domain.severity import DEFAULT_DUE_DAYS

    chosen = getattr(policy, "due_days", None)
    return int(chosen(severity)) if callable(chosen) else DEFAULT_DUE_DAYS[severity]


def get_finding(actor: Actor, finding_id: str) -> Finding:
    """One finding of the actor's tenant; 404 for any other."""
    store = for_actor(actor)
    return _read(store, finding_id)


def list_findings(
    actor: Actor,
    limit: int,
    cursor_text: str | None,
    *,
    status: str | None = None,
    severity: str | None = None,
    rule: str | None = None,
    model_id: str | None = None,
) -> tuple[list[Finding], str | None]:
    """A page of the tenant's findings, filtered by status, severity, rule and model."""
    store = for_actor(actor)
    indexed = status is not None
    items, next_cursor = store.page(
        lambda size, start: store.findings.list_page(
            size, start, status=status, severity=severity, rule=rule, model_id=model_id
        ),
        query="findings",
        limit=limit,
        cursor_text=cursor_text,
        filtered=severity is not None or rule is not None or (model_id is not None and not indexed),
        key_attrs=("pk", "sk", "gsi1pk", "gsi1sk") if indexed else ("pk", "sk"),
        status=status,
        severity=severity,
        rule=rule,
        model=model_id,
    )
    return [to_model(Finding, i) for i in items], next_cursor


def raise_finding(actor: Actor, body: FindingCreate, claim: Claim | None = None) -> Finding:
    """A validator's finding on a model or one of its versions (404 unless it is the
    tenant's); it falls due by the policy's days for its severity."""
    store = for_actor(actor)
    model = _model(store, body.model_id)
    number = body.version_number
    if number is not None and store.inventory.get_version(model.id, number) is None:
        raise NotFoundError(
            f"no version {body.version_number} of model {model.id}",
            errors=[FieldError("body.version_number", "no such version")],
        )
    opened = datetime.now(UTC)
    at = opened.isoformat()
    finding = Finding.model_validate(
        {
            "id": new_id("finding"),
            "kind": FindingKind.MANUAL,
            "severity": body.severity,
            "status": FindingStatus.OPEN,
            "title": body.title,
            "detail": body.detail,
            "model_id": model.id,
            "version_number": body.version_number,
            "due_at": due_at(store, body.severity, opened),
            "opened_at": at,
            "raised_by": actor.principal_id,
            "created_at": at,
            "updated_at": at,
            "revision": 1,
        }
    )
    unit = UnitOfWork()
    unit.add("finding", store.findings.put_new(public(finding)))
    unit.add("model", store.inventory.check_model_exists(model.id))
    _count(store, unit, None, finding)
    unit.record(events.FINDING_OPENED.name, "finding", finding.id, after=public(finding))
    unit.emit(events.FINDING_OPENED.of(finding))
    unit.replay_answer(claim.response(finding) if claim else None)
    store.commit(actor, unit)
    return finding


def accept_finding(actor: Actor, finding_id: str, body: FindingAcceptance) -> Finding:
    """An approver outside the model's team accepts an open finding's risk until
    `body.expires_at`; when that passes, a scan reopens it."""
    store = for_actor(actor)
    now = datetime.now(UTC)
    expires = body.expires_at.astimezone(UTC) if body.expires_at.tzinfo else None
    if expires is None or expires <= now:
        raise DomainRuleError(
            "an acceptance must expire in the future",
            errors=[FieldError("body.expires_at", "must be a future time with an offset")],
        )
    if expires > now + timedelta(days=MAX_ACCEPTANCE_DAYS):
        raise DomainRuleError(
            f"an acceptance lasts at most {MAX_ACCEPTANCE_DAYS} days",
            errors=[FieldError("body.expires_at", f"at most {MAX_ACCEPTANCE_DAYS} days ahead")],
        )
    for _ in range(ATTEMPTS):
        found = _read(store, finding_id)
        model = _model(store, found.model_id)
        _require_outside(actor, model, Role.APPROVER, "accept a finding's risk")
        duties.require_own_key(actor, "accept a finding's risk")
        if found.status is not FindingStatus.OPEN:
            raise ConflictError(
                f"finding {found.id} is {found.status}; only an open one is accepted"
            )
        at = timestamp()
        acceptance = {
            "reason": body.reason,
            "expires_at": expires.isoformat(),
            "accepted_by": actor.principal_id,
            "accepted_at": at,
        }
        changed = _changed(found, status=FindingStatus.ACCEPTED, acceptance=acceptance, at=at)
        try:
            _commit_change(store, actor, found, changed, events.FINDING_ACCEPTED)
        except RetryError:
            continue
        return changed
    raise TransientConflictError("the finding changed too often meanwhile; retry")


def resolve_finding(actor: Actor, finding_id: str, body: FindingResolution) -> Finding:
    """A validator outside the model's team resolves an open or accepted finding with a
    note. A rule finding whose condition still holds is reopened by the next scan."""
    store = for_actor(actor)
    for _ in range(ATTEMPTS):
        found = _read(store, finding_id)
        model = _model(store, found.model_id)
        _require_outside(actor, model, Role.VALIDATOR, "resolve a finding")
        if found.status is FindingStatus.RESOLVED:
            raise ConflictError(f"finding {found.id} is resolved already")
        at = timestamp()
        changed = _changed(
            found,
            status=FindingStatus.RESOLVED,
            resolved_at=at,
            resolved_by=actor.principal_id,
            resolution_note=body.note,
            at=at,
        )
        try:
            _commit_change(store, actor, found, changed, events.FINDING_RESOLVED)
        except RetryError:
            continue
        return changed
    raise TransientConflictError("the finding changed too often meanwhile; retry")


def require_unblocked(store: TenantStore, model_id: str, version_number: int, summary: Any) -> None:
    """409 naming the open critical and high findings on the model or the version, when
    its findings summary (read with the rest of the change) counts any."""
    from chalicelib.store.findings import blocking_counter

    if not summary:
        return
    counters = (blocking_counter(None), blocking_counter(version_number))
    if not any(int(summary.get(c, 0) or 0) > 0 for c in counters):
        return
    blocking = store.findings.open_blocking(model_id, version_number)
    names = ", ".join(f"{i['id']} ({i['severity']}: {i['title']})" for i in blocking[:10])
    raise ConflictError(
        f"open critical or high findings block version {version_number}: {names or 'see'}"
        f" GET /v1/findings?model_id={model_id}&status=open",
        errors=[FieldError(f"findings.{i['id']}", str(i["title"])) for i in blocking[:20]],
    )


# --- helpers -----------------------------------------------------------------------------


def _read(store: TenantStore, finding_id: str) -> Finding:
    item = store.findings.get(finding_id) if is_id(finding_id, "finding") else None
    if item is None:
        raise NotFoundError(f"no finding {finding_id}")
    return to_model(Finding, item)


def _model(store: TenantStore, model_id: str) -> Model:
    item = store.inventory.get_model(model_id) if is_id(model_id, "model") else None
    if item is None:
        raise NotFoundError(
            f"no model {model_id}", errors=[FieldError("body.model_id", "no such model")]
        )
    return to_model(Model, item)


def _require_outside(actor: Actor, model: Model, role: Role, doing: str) -> None:
    if not actor.has_any(role):
        raise ForbiddenError(f"only a {role} may {doing}")
    members = duties.team(model.owner_id, model.developer_ids)
    if actor.principal_id in members or actor.principal_id in set(model.past_team_ids):
        raise ForbiddenError(
            f"you are or have been on the model's team: a {role} outside it may {doing}"
        )


def _changed(found: Finding, *, at: str, **fields: Any) -> Finding:
    return Finding.model_validate(
        {**public(found), **fields, "updated_at": at, "revision": found.revision + 1}
    )


def _count(store: TenantStore, unit: UnitOfWork, before: Finding | None, after: Finding) -> None:
    op = store.findings.count_op(
        after.model_id, count_deltas(public(before) if before else None, public(after))
    )
    if op is not None:
        unit.add("counts", op)


def _commit_change(
    store: TenantStore, actor: Actor, before: Finding, after: Finding, kind: Any
) -> None:
    unit = UnitOfWork()
    unit.add("finding", store.findings.put_replace(public(after), before.revision), RetryError)
    _count(store, unit, before, after)
    unit.record(kind.name, "finding", after.id, before=public(before), after=public(after))
    unit.emit(kind.of(after))
    store.commit(actor, unit)
