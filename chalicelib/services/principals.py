"""A tenant's principals and their API keys, managed by the tenant's admins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib import auth
from chalicelib.domain.audit import diff
from chalicelib.domain.context import Caller
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.models import (
    PRINCIPAL_NOT_NULL,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyStatus,
    Me,
    Principal,
    PrincipalCreate,
    PrincipalPatch,
)
from chalicelib.domain.roles import Role
from chalicelib.errors import DomainRuleError, FieldError, NotFoundError, PreconditionFailedError
from chalicelib.services.paging import page
from chalicelib.services.records import merge_patch, public, timestamp, to_model
from chalicelib.store import cursor, principals
from chalicelib.store.idempotency import Claim
from chalicelib.store.writer import AuditEntry, DomainEvent, Write, commit


def create_principal(
    caller: Caller, body: PrincipalCreate, claim: Claim | None = None
) -> Principal:
    """A new person or service account in the caller's tenant."""
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
    commit(
        caller,
        Write(
            tenant_id=caller.tenant,
            ops=[
                principals.put_new(caller.tenant, item),
                *_admin_change(caller.tenant, None, principal),
            ],
            audit=AuditEntry(
                "principal.created", "principal", principal.id, after=public(principal)
            ),
            events=[DomainEvent("principal.created", public(principal))],
        ),
        claim.response(principal) if claim else None,
    )
    return principal


def get_principal(caller: Caller, principal_id: str) -> Principal:
    item = principals.get(caller.tenant, principal_id) if is_id(principal_id, "principal") else None
    if item is None:
        raise NotFoundError(f"no principal {principal_id}")
    return to_model(Principal, item)


def list_principals(
    caller: Caller, limit: int, cursor_text: str | None
) -> tuple[list[Principal], str | None]:
    items, next_cursor = page(
        lambda n, start: principals.list_page(caller.tenant, n, start),
        tenant=caller.tenant,
        query=cursor.fingerprint("principals"),
        limit=limit,
        cursor_text=cursor_text,
    )
    return [to_model(Principal, i) for i in items], next_cursor


def update_principal(
    caller: Caller, principal_id: str, patch: PrincipalPatch, if_match: Callable[[int], int]
) -> Principal:
    """Rename, change roles of, or deactivate a principal; role changes are audited as such."""
    current = get_principal(caller, principal_id)
    revision = if_match(current.revision)
    merged = merge_patch(public(current), patch, required=PRINCIPAL_NOT_NULL)
    if principal_id == caller.principal_id:
        _refuse_self_lockout(merged)
    merged.update(roles=sorted(set(merged["roles"])), updated_at=timestamp(), revision=revision + 1)
    updated = Principal.model_validate(merged)
    before, after = diff(public(current), public(updated))
    action = "principal.roles_changed" if "roles" in after else "principal.updated"
    if after.get("status") == "deactivated":
        action = "principal.deactivated"
    commit(
        caller,
        Write(
            tenant_id=caller.tenant,
            ops=[
                principals.put_replace(caller.tenant, public(updated), revision),
                *_admin_change(caller.tenant, current, updated),
            ],
            audit=AuditEntry(action, "principal", principal_id, before=before, after=after),
            events=[DomainEvent(action, public(updated))],
            on_failure={
                0: lambda: PreconditionFailedError("the principal changed since it was read"),
                1: _last_admin,
            },
        ),
    )
    # This process at once; others within the auth cache time.
    auth.forget(caller.tenant, principal_id=principal_id)
    return updated


def _is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.status == "active" and Role.ADMIN in principal.roles


def _admin_change(
    tenant_id: str, before: Principal | None, after: Principal
) -> list[dict[str, Any]]:
    """The op that keeps the tenant's count of active admins, when this change moves it."""
    delta = int(_is_admin(after)) - int(_is_admin(before))
    return [principals.count_admins(tenant_id, delta)] if delta else []


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


def whoami(caller: Caller) -> Me:
    name = None
    if not caller.platform:
        item = principals.get(caller.tenant, caller.principal_id)
        name = item["name"] if item else None
    return Me(
        principal_id=caller.principal_id,
        tenant_id=caller.tenant_id,
        key_id=caller.key_id,
        roles=sorted(caller.roles),
        platform=caller.platform,
        name=name,
    )


# --- API keys ----------------------------------------------------------------


def key_view(item: dict[str, Any]) -> ApiKey:
    """The public face of a key item: never its hash."""
    expires = item.get("key_expires_at")
    status = ApiKeyStatus.ACTIVE
    if item.get("revoked_at"):
        status = ApiKeyStatus.REVOKED
    elif expires and datetime.fromisoformat(expires) <= datetime.now(UTC):
        status = ApiKeyStatus.EXPIRED
    return ApiKey(
        id=item["id"],
        principal_id=item["principal_id"],
        name=item["name"],
        status=status,
        created_at=item["created_at"],
        expires_at=expires,
        revoked_at=item.get("revoked_at"),
    )


def create_key(caller: Caller, body: ApiKeyCreate, claim: Claim | None = None) -> ApiKeyCreated:
    """A new key for an active principal of the tenant; the secret is shown once."""
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise DomainRuleError(
            "the key would already be expired",
            errors=[FieldError("body.expires_at", "must be in the future")],
        )
    key_id = new_id("api_key")
    token, secret_hash = auth.mint_secret(key_id)
    item = {
        "id": key_id,
        "principal_id": body.principal_id,
        "name": body.name,
        "secret_hash": secret_hash,
        "created_at": timestamp(),
        "key_expires_at": body.expires_at.isoformat() if body.expires_at else None,
    }
    view = key_view(item)
    result = ApiKeyCreated(**view.model_dump(), secret=token)
    unknown = NotFoundError(
        f"no active principal {body.principal_id}",
        errors=[FieldError("body.principal_id", "no such active principal")],
    )
    commit(
        caller,
        Write(
            tenant_id=caller.tenant,
            ops=[
                principals.check_active(caller.tenant, body.principal_id),
                principals.put_new_key(caller.tenant, item),
            ],
            audit=AuditEntry("api_key.created", "api_key", key_id, after=public(view)),
            events=[DomainEvent("api_key.created", public(view))],
            on_failure={0: lambda: _unprocessable(unknown)},
        ),
        claim.response(result.model_copy(update={"secret": None})) if claim else None,
    )
    return result


def _unprocessable(error: NotFoundError) -> DomainRuleError:
    return DomainRuleError(error.detail, errors=error.errors)


def list_keys(
    caller: Caller, limit: int, cursor_text: str | None, principal_id: str | None
) -> tuple[list[ApiKey], str | None]:
    items, next_cursor = page(
        lambda n, start: principals.list_keys_page(caller.tenant, n, start, principal_id),
        tenant=caller.tenant,
        query=cursor.fingerprint("api-keys", principal=principal_id),
        limit=limit,
        cursor_text=cursor_text,
        filtered=principal_id is not None,
        key_attrs=("pk", "sk", "gsi1pk", "gsi1sk"),
    )
    return [key_view(i) for i in items], next_cursor


def revoke_key(caller: Caller, key_id: str) -> None:
    """Revoke a key; requests with it fail within the auth cache time (30 s)."""
    item = principals.get_tenant_key(caller.tenant, key_id) if is_id(key_id, "api_key") else None
    if item is None:
        raise NotFoundError(f"no API key {key_id}")
    if item.get("revoked_at"):
        return
    at = timestamp()
    commit(
        caller,
        Write(
            tenant_id=caller.tenant,
            ops=[principals.revoke_key(caller.tenant, key_id, at)],
            audit=AuditEntry(
                "api_key.revoked",
                "api_key",
                key_id,
                before={"revoked_at": None},
                after={"revoked_at": at},
            ),
            events=[DomainEvent("api_key.revoked", public(key_view({**item, "revoked_at": at})))],
            on_failure={0: lambda: NotFoundError(f"no API key {key_id}")},
        ),
    )
    auth.forget(caller.tenant, key_id=key_id)  # this process at once; others within the cache time
