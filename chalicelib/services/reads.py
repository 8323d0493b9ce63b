"""What GETs answer: stored items found in the caller's tenant, rendered by their views.

No pydantic here or below (`domain/views.py` says why): a cold process that serves a read
never imports a model. The services that change things build their models from the same
lookups (`model_item`, `version_item`), so a read and a write agree on what exists.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import views
from chalicelib.domain.actors import Actor
from chalicelib.domain.ids import is_id
from chalicelib.domain.lifecycle import tier_in_force
from chalicelib.errors import NotFoundError
from chalicelib.store import cursor, paging, tenants
from chalicelib.store.inventory import tier_in_force_filter
from chalicelib.store.scope import for_actor, for_tenant

Item = dict[str, Any]
Page = tuple[Item, str | None]  # a rendered page and its next cursor


# --- models and versions ---------------------------------------------------------


def model_item(actor: Actor, model_id: str) -> Item:
    """The stored model of the caller's tenant; 404 if it has none of that id."""
    store = for_actor(actor)
    item = store.inventory.get_model(model_id) if is_id(model_id, "model") else None
    if item is None:
        raise NotFoundError(f"no model {model_id}")
    return item


def model(actor: Actor, model_id: str) -> Item:
    """A model as `GET /v1/models/{model_id}` answers it."""
    return render_model(model_item(actor, model_id))


def render_model(item: Item) -> Item:
    """A stored model rendered; one stored before tiers were confirmed shows its tier in
    force as the pydantic model works it out (`lifecycle.tier_in_force`)."""
    if "risk_tier_in_force" not in item:
        confirmed = bool(item.get("risk_tier_confirmed"))
        item = {**item, "risk_tier_in_force": tier_in_force(int(item["risk_tier"]), confirmed)}
    return views.MODEL.render(item)


def models_page(actor: Actor, limit: int, cursor_text: str | None, filters: dict[str, Any]) -> Item:
    """A page of the inventory, optionally filtered by the risk tier in force, status, owner
    or tag.

    A status is a partition of its own (gsi1): `?status=in_production` reads the models in
    production only, however large the inventory; the other filters filter what it reads."""
    store = for_actor(actor)
    clauses: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    if "risk_tier" in filters:
        clauses.append(tier_in_force_filter(filters["risk_tier"], names, values))
    if "owner" in filters:
        clauses.append("#owner = :owner")
        names["#owner"], values[":owner"] = "owner_id", filters["owner"]
    if "tag" in filters:
        clauses.append("contains(#tags, :tag)")
        names["#tags"], values[":tag"] = "tags", filters["tag"]
    expression = " AND ".join(clauses) or None
    status = filters.get("status")

    def fetch(n: int, start: dict[str, Any] | None) -> tuple[list[Item], Item | None]:
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
    return {"next_cursor": next_cursor, "items": [render_model(i) for i in items]}


def version_number(number: str) -> int | None:
    """The version number a path names, or None when it cannot name one (a 404, no read)."""
    return int(number) if re.fullmatch(r"[1-9][0-9]{0,5}", number) else None


def version_item(actor: Actor, model_id: str, number: str) -> Item:
    """The stored version `number` of a model of the caller's tenant; 404 otherwise."""
    store = for_actor(actor)
    n = version_number(number)
    item = None
    if n is not None and is_id(model_id, "model"):
        item = store.inventory.get_version(model_id, n)
    if item is None:
        raise NotFoundError(f"no version {number} of model {model_id}")
    return item


def version(actor: Actor, model_id: str, number: str) -> Item:
    """A version as `GET /v1/models/{model_id}/versions/{number}` answers it."""
    return views.VERSION.render(version_item(actor, model_id, number))


def versions_page(actor: Actor, model_id: str, limit: int, cursor_text: str | None) -> Item:
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
        model_item(actor, model_id)  # an empty first page: say 404 if the model is not ours
    return views.VERSION.page(items, next_cursor)


# --- tenants (the platform's) ------------------------------------------------------


def tenant_item(tenant_id: str) -> Item:
    """A tenant's stored item, for the platform operator; 404 if there is none."""
    item = tenants.get(tenant_id) if is_id(tenant_id, "tenant") else None
    if item is None:
        raise NotFoundError(f"no tenant {tenant_id}")
    return item


def tenant(tenant_id: str) -> Item:
    """A tenant as `GET /v1/tenants/{tenant_id}` answers it."""
    return views.TENANT.render(tenant_item(tenant_id))


def tenants_page(limit: int, cursor_text: str | None) -> Item:
    """A page of every tenant, oldest first."""
    items, next_cursor = paging.page(
        tenants.list_page,
        tenant=None,
        query=cursor.fingerprint("tenants"),
        limit=limit,
        cursor_text=cursor_text,
        key_attrs=("pk", "sk", "gsi1pk", "gsi1sk"),
    )
    return views.TENANT.page(items, next_cursor)


def admin_key(tenant_id: str, key_id: str) -> Item:
    """A break-glass key the platform issued for `tenant_id` (never the tenant's own keys)."""
    item = None
    if is_id(tenant_id, "tenant") and is_id(key_id, "api_key"):
        item = for_tenant(tenant_id).principals.get_key(key_id)
    if item is None or not item.get("break_glass"):
        raise NotFoundError(f"no break-glass key {key_id} of tenant {tenant_id}")
    return views.API_KEY.render(key_fields(item))


# --- principals, keys and the caller ----------------------------------------------


def principal_item(actor: Actor, principal_id: str) -> Item:
    """A principal of the caller's tenant; 404 if it has none of that id."""
    store = for_actor(actor)
    item = store.principals.get(principal_id) if is_id(principal_id, "principal") else None
    if item is None:
        raise NotFoundError(f"no principal {principal_id}")
    return item


def principal(actor: Actor, principal_id: str) -> Item:
    """A principal as `GET /v1/principals/{principal_id}` answers it."""
    return views.PRINCIPAL.render(principal_item(actor, principal_id))


def principals_page(actor: Actor, limit: int, cursor_text: str | None) -> Item:
    """A page of the tenant's principals."""
    store = for_actor(actor)
    items, next_cursor = store.page(
        store.principals.list_page, query="principals", limit=limit, cursor_text=cursor_text
    )
    return views.PRINCIPAL.page(items, next_cursor)


def key_fields(item: Item) -> Item:
    """The public fields of a stored key (never its hash), its status as of now."""
    expires = item.get("key_expires_at")
    status = "active"
    if item.get("revoked_at"):
        status = "revoked"
    elif expires and datetime.fromisoformat(expires) <= datetime.now(UTC):
        status = "expired"
    return {
        "id": item["id"],
        "principal_id": item["principal_id"],
        "name": item["name"],
        "status": status,
        "created_at": item["created_at"],
        "expires_at": expires,
        "revoked_at": item.get("revoked_at"),
        "issued_by": item.get("issued_by"),
        "rotated_from": item.get("rotated_from"),
    }


def api_key(actor: Actor, key_id: str) -> Item:
    """One of the tenant's keys as `GET /v1/api-keys/{key_id}` answers it."""
    store = for_actor(actor)
    item = store.principals.get_key(key_id) if is_id(key_id, "api_key") else None
    if item is None:
        raise NotFoundError(f"no API key {key_id}")
    return views.API_KEY.render(key_fields(item))


def api_keys_page(
    actor: Actor, limit: int, cursor_text: str | None, principal_id: str | None
) -> Item:
    """A page of the tenant's keys, or of one principal's."""
    store = for_actor(actor)
    items, next_cursor = store.page(
        lambda n, start: store.principals.list_keys_page(n, start, principal_id),
        query="api-keys",
        limit=limit,
        cursor_text=cursor_text,
        filtered=principal_id is not None,
        key_attrs=("pk", "sk", "gsi1pk", "gsi1sk"),
        principal=principal_id,
    )
    return views.API_KEY.page([key_fields(i) for i in items], next_cursor)


def whoami(actor: Actor) -> Item:
    """The caller as `GET /v1/me` answers it."""
    name = None
    if actor.is_principal:
        item = for_actor(actor).principals.get(str(actor.principal_id))
        name = item["name"] if item else None
    return views.ME.render(
        {
            "principal_id": str(actor.principal_id),
            "tenant_id": actor.tenant_id,
            "key_id": str(actor.key_id),
            "key_issued_by": actor.key_issuer,
            "own_key": actor.own_key,
            "roles": [str(role) for role in sorted(actor.roles)],
            "platform": actor.platform,
            "name": name,
        }
    )
