"""The model inventory: models and their versions, with the team and separation-of-duties
rules of `domain.duties` and the version lifecycle of `domain.lifecycle`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalicelib.domain import duties, events, lifecycle
from chalicelib.domain.actors import Actor
from chalicelib.domain.audit import diff
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
from chalicelib.errors import (
    ConflictError,
    DomainRuleError,
    FieldError,
    NotFoundError,
    PreconditionFailedError,
    TransientConflictError,
)
from chalicelib.services.records import merge_patch, public, timestamp, to_model, validated
from chalicelib.store.idempotency import Claim
from chalicelib.store.paging import Page
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

LIST_FIELDS = ("inputs", "outputs", "upstream_model_ids", "tags", "regulatory_scope")
VERSION_ATTEMPTS = 25


def team(model: Model) -> set[str]:
    """The model's team: its owner and developers."""
    return duties.team(model.owner_id, model.developer_ids)


def _reference_checks(
    store: TenantStore, unit: UnitOfWork, model: dict[str, Any], only: set[str] | None = None
) -> None:
    """Condition checks that the team are active developers of the tenant and the upstream
    models exist in it: a model nobody may reclassify (a team of validators) cannot be made."""
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
            unit.add(
                f"team:{ref}",
                store.principals.check_active(ref, role=duties.TEAM_ROLE),
                _missing(field, "no active principal of this tenant with the developer role"),
            )
        else:
            unit.add(
                f"upstream:{ref}",
                store.inventory.check_model_exists(ref),
                _missing(field, "no model of this tenant"),
            )


def _missing(field: str, message: str) -> Callable[[], Exception]:
    return lambda: DomainRuleError(
        f"{field.removeprefix('body.')}: {message}", errors=[FieldError(field, message)]
    )


def create_model(actor: Actor, body: ModelCreate, claim: Claim | None = None) -> Model:
    """Register a model in the tenant's inventory; its team must be active developers."""
    store = for_actor(actor)
    at = timestamp()
    registrant = str(actor.principal_id)
    fields = body.model_dump(mode="json", exclude_none=True)
    fields["owner_id"] = body.owner_id or registrant
    fields["developer_ids"] = list(dict.fromkeys(body.developer_ids or [registrant]))
    past_team = [registrant, fields["owner_id"], *fields["developer_ids"]]
    item = {
        "id": new_id("model"),
        **fields,
        "past_team_ids": list(dict.fromkeys(past_team)),
        "status": "in_development",
        "version_count": 0,
        "created_by": registrant,
        "created_at": at,
        "updated_at": at,
        "revision": 1,
    }
    model = to_model(Model, item)
    unit = UnitOfWork()
    _reference_checks(store, unit, item)
    unit.add("model", store.inventory.put_new_model(item))
    unit.record("model.created", "model", model.id, after=public(model))
    unit.emit(events.MODEL_CREATED.of(model))
    store.commit(actor, unit.replay_answer(claim.response(model) if claim else None))
    return model


def get_model(actor: Actor, model_id: str) -> Model:
    store = for_actor(actor)
    item = store.inventory.get_model(model_id) if is_id(model_id, "model") else None
    if item is None:
        raise NotFoundError(f"no model {model_id}")
    return to_model(Model, item)


def list_models(
    actor: Actor, limit: int, cursor_text: str | None, filters: dict[str, Any]
) -> tuple[list[Model], str | None]:
    """A page of the inventory, optionally filtered by risk tier, status, owner or tag.

    A status is a partition of its own (gsi1): `?status=in_production` reads the models in
    production only, however large the inventory; the other filters filter what it reads."""
    store = for_actor(actor)
    clauses, names, values = [], {}, {}
    for name, attr in (("risk_tier", "risk_tier"), ("owner", "owner_id")):
        if name in filters:
            clauses.append(f"#{name} = :{name}")
            names[f"#{name}"], values[f":{name}"] = attr, filters[name]
    if "tag" in filters:
        clauses.append("contains(#tags, :tag)")
        names["#tags"], values[":tag"] = "tags", filters["tag"]
    expression = " AND ".join(clauses) or None
    status = filters.get("status")

    def fetch(n: int, start: dict[str, Any] | None) -> Page:
        if status is None:
            return store.inventory.list_models_page(
                n, start, expression, names or None, values or None
            )
        return store.inventory.list_models_by_status_page(
            status, n, start, expression, names or None, values or None
        )

    items, next_cursor = store.page(
        fetch,
        query="models",
        limit=limit,
        cursor_text=cursor_text,
        filtered=expression is not None,
        key_attrs=("pk", "sk") if status is None else ("pk", "sk", "gsi1pk", "gsi1sk"),
        **filters,
    )
    return [to_model(Model, i) for i in items], next_cursor


def update_model(
    actor: Actor, model_id: str, patch: ModelPatch, if_match: Callable[[int], int]
) -> Model:
    """Merge-patch a model. Descriptive fields are the team's; risk tier and regulatory
    scope belong to validators or approvers who were never on the team. Rights are checked
    for every field sent, before anything else, even when nothing would change."""
    store = for_actor(actor)
    current = get_model(actor, model_id)
    sent = patch.model_dump(exclude_unset=True)
    duties.require_model_edit_rights(actor, team(current), current.past_team_ids, sent)
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
    new_refs = (team(updated) - team(current)) | (
        set(updated.upstream_model_ids) - set(current.upstream_model_ids)
    )
    unit = UnitOfWork()
    _reference_checks(store, unit, public(updated), only=new_refs)
    unit.add(
        "model",
        store.inventory.put_replace_model(public(updated), revision),
        lambda: PreconditionFailedError("the model changed since it was read"),
    )
    reclassified = bool(changed & duties.GOVERNANCE_FIELDS)
    kind = events.MODEL_RECLASSIFIED if reclassified else events.MODEL_UPDATED
    unit.record(kind.name, "model", model_id, before=before, after=after)
    store.commit(actor, unit.emit(kind.of(updated)))
    return updated


# --- versions ----------------------------------------------------------------


def create_version(
    actor: Actor, model_id: str, body: VersionCreate, claim: Claim | None = None
) -> Version:
    """A new draft version, numbered 1, 2, 3 … per model without gaps."""
    store = for_actor(actor)
    for _ in range(VERSION_ATTEMPTS):
        model = get_model(actor, model_id)
        duties.require_team_developer(actor, team(model), "add versions")
        if model.status == "retired":
            raise ConflictError("a retired model takes no new versions")
        at = timestamp()
        item = {
            "id": new_id("version"),
            "model_id": model_id,
            "number": model.version_count + 1,
            "status": lifecycle.transition(
                lifecycle.NEW, lifecycle.VersionStatus.DRAFT, {lifecycle.Mover.TEAM}
            ).value,
            **body.model_dump(mode="json", exclude_none=True),
            "created_by": actor.principal_id,
            "created_at": at,
            "updated_at": at,
            "revision": 1,
        }
        version = to_model(Version, item)
        unit = UnitOfWork()
        unit.add(
            "number",
            store.inventory.bump_version_count(model_id, model.version_count, at),
            RetryError,
        )
        unit.add("version", store.inventory.put_new_version(item), RetryError)
        unit.record("version.created", "version", version.id, after=public(version))
        unit.emit(events.VERSION_CREATED.of(version))
        unit.replay_answer(claim.response(version) if claim else None)
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return version
    raise TransientConflictError("too many versions created at once; retry")


def version_number(number: str) -> int | None:
    """The version number a path names, or None when it cannot name one (a 404, no read)."""
    return int(number) if re.fullmatch(r"[1-9][0-9]{0,5}", number) else None


def get_version(actor: Actor, model_id: str, number: str) -> Version:
    store = for_actor(actor)
    n = version_number(number)
    item = None
    if n is not None and is_id(model_id, "model"):
        item = store.inventory.get_version(model_id, n)
    if item is None:
        raise NotFoundError(f"no version {number} of model {model_id}")
    return to_model(Version, item)


def list_versions(
    actor: Actor, model_id: str, limit: int, cursor_text: str | None
) -> tuple[list[Version], str | None]:
    """A page of a model's versions, oldest first; 404 if the model is not the tenant's."""
    store = for_actor(actor)
    if not is_id(model_id, "model"):
        raise NotFoundError(f"no model {model_id}")
    items, next_cursor = store.page(
        lambda n, start: store.inventory.list_versions_page(model_id, n, start),
        query="versions",
        limit=limit,
        cursor_text=cursor_text,
        model=model_id,
    )
    if not items and cursor_text is None:
        get_model(actor, model_id)  # an empty first page: say 404 if the model is not ours
    return [to_model(Version, i) for i in items], next_cursor


def update_version(
    actor: Actor, model_id: str, number: str, patch: VersionPatch, if_match: Callable[[int], int]
) -> Version:
    """Merge-patch a draft version's description or model card."""
    store = for_actor(actor)
    current = get_version(actor, model_id, number)
    model = get_model(actor, model_id)
    duties.require_team_developer(actor, team(model), "edit versions")
    lifecycle.require_editable(current.status, current.number, "change")
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
    unit = UnitOfWork()
    unit.add(
        "version",
        store.inventory.put_replace_version(public(updated), revision),
        lambda: _lost_version_race(actor, model_id, number),
    )
    unit.record("version.updated", "version", current.id, before=before, after=after)
    store.commit(actor, unit.emit(events.VERSION_UPDATED.of(updated)))
    return updated


def _lost_version_race(actor: Actor, model_id: str, number: str) -> Exception:
    """Why a version's conditional replace failed: it left draft (409) or changed (412)."""
    now = get_version(actor, model_id, number)
    try:
        lifecycle.require_editable(now.status, now.number, "change")
    except Exception as exc:
        return exc
    return PreconditionFailedError("the version changed since it was read")
