"""A tenant's principals and their API keys, managed by the tenant's admins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.audit import diff
from chalicelib.domain.credentials import mint_secret
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.models import (
    PRINCIPAL_NOT_NULL,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    Principal,
    PrincipalCreate,
    PrincipalPatch,
)
from chalicelib.domain.roles import Role
from chalicelib.errors import DomainRuleError, FieldError, NotFoundError, PreconditionFailedError
from chalicelib.services import admin_keys, reads
from chalicelib.services.records import merge_patch, public, timestamp, to_model
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

ATTEMPTS = 10


def create_principal(actor: Actor, body: PrincipalCreate, claim: Claim | None = None) -> Principal:
    """A new person or service account in the caller's tenant."""
    store = for_actor(actor)
    at = timestamp()
    item = {
        "id": new_id("principal"),
        **body.model_dump(mode="json"),
        "status": "active",
        "created_at": at,
        "updated_at": at,
        "revision": 1,
    }
    item["roles"] = sorted(set(item["roles"]))
    principal = to_model(Principal, item)
    unit = UnitOfWork().add("principal", store.principals.put_new(item))
    _admin_change(store, unit, None, principal)
    unit.record("principal.created", "principal", principal.id, after=public(principal))
    unit.emit(events.PRINCIPAL_CREATED.of(principal))
    store.commit(actor, unit.replay_answer(claim.response(principal) if claim else None))
    return principal


def get_principal(actor: Actor, principal_id: str) -> Principal:
    """The tenant's principal `principal_id` (404 otherwise)."""
    return to_model(Principal, reads.principal_item(actor, principal_id))


def update_principal(
    actor: Actor, principal_id: str, patch: PrincipalPatch, if_match: Callable[[int], int]
) -> Principal:
    """Rename, change roles of, or deactivate a principal; role changes are audited as such.

    A change that takes away an admin who holds the tenant's last usable admin keys is
    refused, as is one that leaves no active admin: the tenant keeps a way in."""
    store = for_actor(actor)
    for _ in range(ATTEMPTS):
        current = get_principal(actor, principal_id)
        revision = if_match(current.revision)
        merged = merge_patch(public(current), patch, required=PRINCIPAL_NOT_NULL)
        if principal_id == actor.principal_id:
            _refuse_self_lockout(merged)
        merged.update(
            roles=sorted(set(merged["roles"])), updated_at=timestamp(), revision=revision + 1
        )
        updated = Principal.model_validate(merged)
        before, after = diff(public(current), public(updated))
        kind = events.PRINCIPAL_ROLES_CHANGED if "roles" in after else events.PRINCIPAL_UPDATED
        if after.get("status") == "deactivated":
            kind = events.PRINCIPAL_DEACTIVATED
        unit = UnitOfWork().add(
            "principal",
            store.principals.put_replace(public(updated), revision),
            lambda: PreconditionFailedError("the principal changed since it was read"),
        )
        _admin_change(store, unit, current, updated)
        if _is_admin(current) and not _is_admin(updated):
            admin_keys.keep_a_way_in(store, unit, actor, leaving_principal=principal_id)
        unit.record(kind.name, "principal", principal_id, before=before, after=after)
        unit.emit(kind.of(updated))
        unit.invalidates(store.tenant_id, principal_id=principal_id)
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return updated
    raise admin_keys.busy()


def _is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.status == "active" and Role.ADMIN in principal.roles


def _admin_change(
    store: TenantStore, unit: UnitOfWork, before: Principal | None, after: Principal
) -> None:
    """The op that keeps the tenant's count of active admins, when this change moves it."""
    delta = int(_is_admin(after)) - int(_is_admin(before))
    if delta:
        unit.add("admins", store.principals.count_admins(delta), _last_admin)


def _last_admin() -> DomainRuleError:
    return DomainRuleError(
        "a tenant must keep at least one active admin",
        errors=[FieldError("body.roles", "would leave the tenant without an active admin")],
    )


def _refuse_self_lockout(merged: dict[str, Any]) -> None:
    """An admin cannot drop their own admin role or deactivate themselves, so a tenant
    always keeps an admin (only admins change roles, and they cannot demote themselves)."""
    if Role.ADMIN.value not in merged["roles"]:
        raise DomainRuleError(
            "you cannot remove your own admin role; ask another admin",
            errors=[FieldError("body.roles", "would remove the caller's own admin role")],
        )
    if merged["status"] != "active":
        raise DomainRuleError(
            "you cannot deactivate yourself; ask another admin",
            errors=[FieldError("body.status", "would deactivate the caller")],
        )


# --- API keys ----------------------------------------------------------------


def key_view(item: dict[str, Any]) -> ApiKey:
    """The public face of a key item: never its hash."""
    return to_model(ApiKey, reads.key_fields(item))


def new_key_item(
    principal_id: str, name: str, expires_at: datetime | None, *, issued_by: str
) -> dict[str, Any]:
    """A key item for `principal_id`, issued by `issued_by` (a principal id or `platform`),
    with the token it answers to under `token`, to be popped and shown once."""
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise DomainRuleError(
            "the key would already be expired",
            errors=[FieldError("body.expires_at", "must be in the future")],
        )
    key_id = new_id("api_key")
    token, secret_hash = mint_secret(key_id)
    return {
        "id": key_id,
        "principal_id": principal_id,
        "name": name,
        "secret_hash": secret_hash,
        "created_at": timestamp(),
        "key_expires_at": expires_at.isoformat() if expires_at else None,
        "issued_by": issued_by,
        "token": token,
    }


def create_key(actor: Actor, body: ApiKeyCreate, claim: Claim | None = None) -> ApiKeyCreated:
    """A new key for an active principal of the tenant; the secret is shown once."""
    store = for_actor(actor)
    item = new_key_item(
        body.principal_id, body.name, body.expires_at, issued_by=str(actor.principal_id)
    )
    token = item.pop("token")
    view = key_view(item)
    result = ApiKeyCreated(**view.model_dump(), secret=token)
    unknown = DomainRuleError(
        f"no active principal {body.principal_id}",
        errors=[FieldError("body.principal_id", "no such active principal")],
    )
    unit = UnitOfWork()
    unit.add("principal", store.principals.check_active(body.principal_id), lambda: unknown)
    unit.add("key", store.principals.put_new_key(item))
    unit.record("api_key.created", "api_key", view.id, after=public(view))
    unit.emit(events.API_KEY_CREATED.of(view))
    unit.replay_answer(
        claim.response(result.model_copy(update={"secret": None})) if claim else None
    )
    store.commit(actor, unit)
    return result


def revoke_key(actor: Actor, key_id: str) -> None:
    """Revoke a key; requests with it fail within the auth cache time (30 s). The tenant's
    last usable key held by an active admin cannot be revoked (422): issue another first."""
    store = for_actor(actor)
    for _ in range(ATTEMPTS):
        item = store.principals.get_key(key_id) if is_id(key_id, "api_key") else None
        if item is None:
            raise NotFoundError(f"no API key {key_id}")
        if item.get("revoked_at"):
            return
        at = timestamp()
        unit = UnitOfWork().add(
            "key",
            store.principals.revoke_key(key_id, at),
            lambda: NotFoundError(f"no API key {key_id}"),
        )
        holder = item["principal_id"]
        if admin_keys.usable(item) and admin_keys.held_by_admin(store, actor, holder):
            admin_keys.keep_a_way_in(store, unit, actor, leaving_key=key_id)
        unit.record(
            "api_key.revoked",
            "api_key",
            key_id,
            before={"revoked_at": None},
            after={"revoked_at": at},
        )
        unit.emit(events.API_KEY_REVOKED.of(key_view({**item, "revoked_at": at})))
        unit.invalidates(store.tenant_id, key_id=key_id)
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return
    raise admin_keys.busy()
