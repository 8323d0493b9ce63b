"""The model inventory: models and their versions, with the team and
separation-of-duties rules of DESIGN.md section 3."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalicelib.domain.audit import diff
from chalicelib.domain.context import Caller
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.models import (
    MODEL_NOT_NULL,
    Model,
    ModelCreate,
    ModelPatch,
    Version,
    VersionCreate,
    VersionPatch,
)
from chalicelib.domain.roles import Role
from chalicelib.errors import (
    ConflictError,
    DomainRuleError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    TransientConflictError,
)
from chalicelib.services.paging import page
from chalicelib.services.records import merge_patch, public, timestamp, to_model, validated
from chalicelib.store import cursor, inventory, principals
from chalicelib.store.idempotency import Claim
from chalicelib.store.writer import AuditEntry, DomainEvent, RetryError, Write, commit

GOVERNANCE_FIELDS = frozenset({"risk_tier", "regulatory_scope"})
LIST_FIELDS = ("inputs", "outputs", "upstream_model_ids", "tags", "regulatory_scope")
VERSION_ATTEMPTS = 25


def team(model: Model) -> set[str]:
    """The model's team: its owner and developers."""
    return {model.owner_id, *model.developer_ids}


def _require_team_developer(caller: Caller, model: Model, doing: str) -> None:
    if caller.principal_id not in team(model) or not caller.has_any(Role.DEVELOPER):
        raise ForbiddenError(f"only the model's team (developers) may {doing}")


def _reference_checks(
    caller: Caller, model: dict[str, Any], only: set[str] | None = None
) -> tuple[list[dict[str, Any]], dict[int, Any]]:
    """Condition checks that the team's principals and upstream models exist in the tenant."""
    ops: list[dict[str, Any]] = []
    failures: dict[int, Any] = {}
    refs: list[tuple[str, str, bool]] = [("body.owner_id", model["owner_id"], True)]
    refs += [(f"body.developer_ids[{i}]", p, True) for i, p in enumerate(model["developer_ids"])]
    refs += [
        (f"body.upstream_model_ids[{i}]", m, False)
        for i, m in enumerate(model.get("upstream_model_ids") or [])
    ]
    seen: set[str] = set()
    for field, ref, is_principal in refs:
        if ref in seen or (only is not None and ref not in only):
            continue
        seen.add(ref)
        if is_principal:
            ops.append(principals.check_active(caller.tenant, ref))
            failures[len(ops) - 1] = _missing(field, "no active principal of this tenant")
        else:
            ops.append(inventory.check_model_exists(caller.tenant, ref))
            failures[len(ops) - 1] = _missing(field, "no model of this tenant")
    return ops, failures


def _missing(field: str, message: str) -> Any:
    return lambda: DomainRuleError(
        f"{field.removeprefix('body.')}: {message}", errors=[FieldError(field, message)]
    )


def create_model(caller: Caller, body: ModelCreate, claim: Claim | None = None) -> Model:
    """Register a model in the tenant's inventory."""
    at = timestamp()
    fields = body.model_dump(mode="json", exclude_none=True)
    fields["owner_id"] = body.owner_id or caller.principal_id
    fields["developer_ids"] = list(dict.fromkeys(body.developer_ids or [caller.principal_id]))
    past_team = [caller.principal_id, fields["owner_id"], *fields["developer_ids"]]
    item = {
        "id": new_id("model"),
        **fields,
        "past_team_ids": list(dict.fromkeys(past_team)),
        "status": "in_development",
        "version_count": 0,
        "created_by": caller.principal_id,
        "created_at": at,
        "updated_at": at,
        "revision": 1,
    }
    model = to_model(Model, item)
    checks, failures = _reference_checks(caller, item)
    commit(
        caller,
        Write(
            tenant_id=caller.tenant,
            ops=[*checks, inventory.put_new_model(caller.tenant, item)],
            audit=AuditEntry("model.created", "model", model.id, after=public(model)),
            events=[DomainEvent("model.created", public(model))],
            on_failure=failures,
        ),
        claim.response(model) if claim else None,
    )
    return model


def get_model(caller: Caller, model_id: str) -> Model:
    item = inventory.get_model(caller.tenant, model_id) if is_id(model_id, "model") else None
    if item is None:
        raise NotFoundError(f"no model {model_id}")
    return to_model(Model, item)


def list_models(
    caller: Caller, limit: int, cursor_text: str | None, filters: dict[str, Any]
) -> tuple[list[Model], str | None]:
    """A page of the inventory, optionally filtered by risk tier, status, owner or tag."""
    clauses, names, values = [], {}, {}
    for name, attr in (("risk_tier", "risk_tier"), ("status", "status"), ("owner", "owner_id")):
        if name in filters:
            clauses.append(f"#{name} = :{name}")
            names[f"#{name}"], values[f":{name}"] = attr, filters[name]
    if "tag" in filters:
        clauses.append("contains(#tags, :tag)")
        names["#tags"], values[":tag"] = "tags", filters["tag"]
    expression = " AND ".join(clauses) or None
    items, next_cursor = page(
        lambda n, start: inventory.list_models_page(
            caller.tenant, n, start, expression, names or None, values or None
        ),
        tenant=caller.tenant,
        query=cursor.fingerprint("models", **filters),
        limit=limit,
        cursor_text=cursor_text,
        filtered=expression is not None,
    )
    return [to_model(Model, i) for i in items], next_cursor


def update_model(
    caller: Caller, model_id: str, patch: ModelPatch, if_match: Callable[[int], int]
) -> Model:
    """Merge-patch a model. Descriptive fields are the team's; risk tier and regulatory
    scope belong to validators or approvers outside the team."""
    current = get_model(caller, model_id)
    revision = if_match(current.revision)
    if current.status == "retired":
        raise ConflictError("a retired model cannot be changed")
    merged = merge_patch(public(current), patch, required=MODEL_NOT_NULL)
    for name in LIST_FIELDS:  # null clears a list
        merged[name] = merged.get(name) or []
    merged["developer_ids"] = list(dict.fromkeys(merged["developer_ids"]))
    if model_id in merged["upstream_model_ids"]:
        raise DomainRuleError(
            "a model cannot be its own upstream model",
            errors=[FieldError("body.upstream_model_ids", "names the model itself")],
        )
    new_team = [merged["owner_id"], *merged["developer_ids"]]
    merged["past_team_ids"] = list(dict.fromkeys([*current.past_team_ids, *new_team]))
    merged.update(updated_at=timestamp(), revision=revision + 1)
    updated = validated(Model, merged)
    before, after = diff(public(current), public(updated))
    changed = set(after) - {"updated_at", "revision"}
    if not changed:
        return current
    _check_update_rights(caller, current, changed)
    new_refs = (team(updated) - team(current)) | (
        set(updated.upstream_model_ids) - set(current.upstream_model_ids)
    )
    checks, failures = _reference_checks(caller, public(updated), only=new_refs)
    failures[len(checks)] = lambda: PreconditionFailedError("the model changed since it was read")
    action = "model.reclassified" if changed & GOVERNANCE_FIELDS else "model.updated"
    commit(
        caller,
        Write(
            tenant_id=caller.tenant,
            ops=[*checks, inventory.put_replace_model(caller.tenant, public(updated), revision)],
            audit=AuditEntry(action, "model", model_id, before=before, after=after),
            events=[DomainEvent(action, public(updated))],
            on_failure=failures,
        ),
    )
    return updated


def _check_update_rights(caller: Caller, model: Model, changed: set[str]) -> None:
    if changed - GOVERNANCE_FIELDS:
        _require_team_developer(caller, model, "edit a model's descriptive fields")
    if changed & GOVERNANCE_FIELDS:
        if not caller.has_any(Role.VALIDATOR, Role.APPROVER):
            raise ForbiddenError("only validators or approvers may change risk tier or scope")
        if caller.principal_id in team(model) | set(model.past_team_ids):
            raise ForbiddenError(
                "risk tier and regulatory scope must be changed by someone who has never been"
                " on the model's team"
            )


# --- versions ----------------------------------------------------------------


def create_version(
    caller: Caller, model_id: str, body: VersionCreate, claim: Claim | None = None
) -> Version:
    """A new draft version, numbered 1, 2, 3 … per model without gaps."""
    for _ in range(VERSION_ATTEMPTS):
        model = get_model(caller, model_id)
        _require_team_developer(caller, model, "add versions")
        if model.status == "retired":
            raise ConflictError("a retired model takes no new versions")
        at = timestamp()
        item = {
            "id": new_id("version"),
            "model_id": model_id,
            "number": model.version_count + 1,
            "status": "draft",
            **body.model_dump(mode="json", exclude_none=True),
            "created_by": caller.principal_id,
            "created_at": at,
            "updated_at": at,
            "revision": 1,
        }
        version = to_model(Version, item)
        try:
            commit(
                caller,
                Write(
                    tenant_id=caller.tenant,
                    ops=[
                        inventory.bump_version_count(
                            caller.tenant, model_id, model.version_count, at
                        ),
                        inventory.put_new_version(caller.tenant, item),
                    ],
                    audit=AuditEntry(
                        "version.created", "version", version.id, after=public(version)
                    ),
                    events=[DomainEvent("version.created", public(version))],
                    on_failure={0: RetryError, 1: RetryError},
                ),
                claim.response(version) if claim else None,
            )
        except RetryError:
            continue
        return version
    raise TransientConflictError("too many versions created at once; retry")


def _version_number(number: str) -> int | None:
    return int(number) if re.fullmatch(r"[1-9][0-9]{0,5}", number) else None


def get_version(caller: Caller, model_id: str, number: str) -> Version:
    n = _version_number(number)
    item = None
    if n is not None and is_id(model_id, "model"):
        item = inventory.get_version(caller.tenant, model_id, n)
    if item is None:
        raise NotFoundError(f"no version {number} of model {model_id}")
    return to_model(Version, item)


def list_versions(
    caller: Caller, model_id: str, limit: int, cursor_text: str | None
) -> tuple[list[Version], str | None]:
    """A page of a model's versions, oldest first; 404 if the model is not the tenant's."""
    if not is_id(model_id, "model"):
        raise NotFoundError(f"no model {model_id}")
    items, next_cursor = page(
        lambda n, start: inventory.list_versions_page(caller.tenant, model_id, n, start),
        tenant=caller.tenant,
        query=cursor.fingerprint("versions", model=model_id),
        limit=limit,
        cursor_text=cursor_text,
    )
    if not items and cursor_text is None:
        get_model(caller, model_id)  # an empty first page: say 404 if the model is not ours
    return [to_model(Version, i) for i in items], next_cursor


def update_version(
    caller: Caller, model_id: str, number: str, patch: VersionPatch, if_match: Callable[[int], int]
) -> Version:
    """Merge-patch a draft version's description or model card."""
    current = get_version(caller, model_id, number)
    model = get_model(caller, model_id)
    _require_team_developer(caller, model, "edit versions")
    if current.status != "draft":
        raise ConflictError(f"version {current.number} is {current.status}; only drafts change")
    revision = if_match(current.revision)
    merged = merge_patch(public(current), patch, required=frozenset())
    merged["model_card"] = {
        k: v for k, v in (merged.get("model_card") or {}).items() if v is not None
    }
    merged.update(updated_at=timestamp(), revision=revision + 1)
    updated = validated(Version, merged)
    before, after = diff(public(current), public(updated))
    if not set(after) - {"updated_at", "revision"}:
        return current
    commit(
        caller,
        Write(
            tenant_id=caller.tenant,
            ops=[inventory.put_replace_version(caller.tenant, public(updated), revision)],
            audit=AuditEntry("version.updated", "version", current.id, before=before, after=after),
            events=[DomainEvent("version.updated", public(updated))],
            on_failure={0: lambda: _lost_version_race(caller, model_id, number)},
        ),
    )
    return updated


def _lost_version_race(caller: Caller, model_id: str, number: str) -> Exception:
    """Why a version's conditional replace failed: it left draft (409) or changed (412)."""
    now = get_version(caller, model_id, number)
    if now.status != "draft":
        return ConflictError(f"version {now.number} is {now.status}; only drafts change")
    return PreconditionFailedError("the version changed since it was read")
