"""Tenants: created, listed and suspended by the platform operator."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib import auth
from chalicelib.domain.audit import diff
from chalicelib.domain.context import Caller
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.models import (
    TENANT_NOT_NULL,
    ApiKeyCreated,
    Principal,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantPatch,
)
from chalicelib.domain.roles import Role
from chalicelib.errors import NotFoundError, PreconditionFailedError
from chalicelib.services.paging import page
from chalicelib.services.records import merge_patch, public, timestamp, to_model
from chalicelib.store import cursor, principals, tenants
from chalicelib.store.idempotency import Claim
from chalicelib.store.writer import AuditEntry, DomainEvent, Write, commit


def create_tenant(caller: Caller, body: TenantCreate, claim: Claim | None = None) -> TenantCreated:
    """A new tenant with its first admin principal and that admin's API key."""
    at = timestamp()
    tenant_id = new_id("tenant")
    tenant = {
        "id": tenant_id,
        "name": body.name,
        "status": "active",
        "created_at": at,
        "updated_at": at,
        "revision": 1,
    }
    admin = {
        "id": new_id("principal"),
        "name": body.admin_name,
        "email": body.admin_email,
        "kind": "person",
        "roles": [Role.ADMIN.value],
        "status": "active",
        "created_at": at,
        "updated_at": at,
        "revision": 1,
    }
    key_id = new_id("api_key")
    token, secret_hash = auth.mint_secret(key_id)
    key = {
        "id": key_id,
        "principal_id": admin["id"],
        "name": "initial admin key",
        "secret_hash": secret_hash,
        "created_at": at,
    }
    result = TenantCreated(
        tenant=to_model(Tenant, tenant),
        admin=to_model(Principal, admin),
        api_key=ApiKeyCreated(**_key_view(key), secret=token),
    )
    write = Write(
        tenant_id=tenant_id,
        ops=[
            tenants.put_new(tenant),
            principals.put_new(tenant_id, admin),
            principals.count_admins(tenant_id, 1),
            principals.put_new_key(tenant_id, key),
        ],
        audit=AuditEntry(
            "tenant.created",
            "tenant",
            tenant_id,
            after={
                "tenant": public(result.tenant),
                "admin": public(result.admin),
                "api_key": _key_view(key),
            },
        ),
        events=[
            DomainEvent("tenant.created", public(result.tenant)),
            DomainEvent("principal.created", public(result.admin)),
            DomainEvent("api_key.created", _key_view(key)),
        ],
    )
    commit(caller, write, claim.response(_redacted(result)) if claim else None)
    return result


def _redacted(result: TenantCreated) -> TenantCreated:
    """What an idempotent replay may show: everything but the secret."""
    return result.model_copy(update={"api_key": result.api_key.model_copy(update={"secret": None})})


def _key_view(key: dict) -> dict:
    return {
        "id": key["id"],
        "principal_id": key["principal_id"],
        "name": key["name"],
        "status": "active",
        "created_at": key["created_at"],
        "expires_at": key.get("key_expires_at"),
        "revoked_at": None,
    }


def get_tenant(tenant_id: str) -> Tenant:
    item = tenants.get(tenant_id) if is_id(tenant_id, "tenant") else None
    if item is None:
        raise NotFoundError(f"no tenant {tenant_id}")
    return to_model(Tenant, item)


def list_tenants(limit: int, cursor_text: str | None) -> tuple[list[Tenant], str | None]:
    items, next_cursor = page(
        tenants.list_page,
        tenant=None,
        query=cursor.fingerprint("tenants"),
        limit=limit,
        cursor_text=cursor_text,
        key_attrs=("pk", "sk", "gsi1pk", "gsi1sk"),
    )
    return [to_model(Tenant, i) for i in items], next_cursor


def update_tenant(
    caller: Caller, tenant_id: str, patch: TenantPatch, if_match: Callable[[int], int]
) -> Tenant:
    """Rename, suspend or reactivate a tenant; suspension locks out its keys."""
    current = get_tenant(tenant_id)
    revision = if_match(current.revision)
    merged = merge_patch(public(current), patch, required=TENANT_NOT_NULL)
    merged.update(updated_at=timestamp(), revision=revision + 1)
    updated = Tenant.model_validate(merged)
    before, after = diff(public(current), public(updated))
    action = "tenant.updated"
    if "status" in after:
        action = "tenant.suspended" if updated.status == "suspended" else "tenant.reactivated"
    commit(
        caller,
        Write(
            tenant_id=tenant_id,
            ops=[tenants.put_replace(public(updated), revision)],
            audit=AuditEntry(action, "tenant", tenant_id, before=before, after=after),
            events=[DomainEvent(action, public(updated))],
            on_failure={0: lambda: PreconditionFailedError("the tenant changed since it was read")},
        ),
    )
    auth.forget(tenant_id)  # this process at once; others within the auth cache time
    return updated
