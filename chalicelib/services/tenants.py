"""Tenants: created, listed and suspended by the platform operator, who can also issue a
break-glass key for a tenant's admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain import events
from chalicelib.domain.actors import PLATFORM_PRINCIPAL, Actor
from chalicelib.domain.audit import diff
from chalicelib.domain.ids import new_id
from chalicelib.domain.models import (
    TENANT_NOT_NULL,
    AdminKeyIssue,
    ApiKey,
    ApiKeyCreated,
    Principal,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantPatch,
)
from chalicelib.domain.roles import Role
from chalicelib.errors import DomainRuleError, FieldError, PreconditionFailedError
from chalicelib.services import reads
from chalicelib.services.principals import key_view, new_key_item
from chalicelib.services.records import merge_patch, public, timestamp, to_model
from chalicelib.store import tenants
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore, for_tenant
from chalicelib.store.unit import UnitOfWork

BREAK_GLASS_DEFAULT = timedelta(hours=24)
BREAK_GLASS_LONGEST = timedelta(days=7)


def create_tenant(actor: Actor, body: TenantCreate, claim: Claim | None = None) -> TenantCreated:
    """A new tenant with its first admin principal and that admin's API key."""
    at = timestamp()
    tenant_id = new_id("tenant")
    store = for_tenant(tenant_id)
    tenant = {
        "id": tenant_id,
        "name": body.name,
        "status": "active",
        "created_at": at,
        "updated_at": at,
        "revision": 1,
    }
    admin_id = new_id("principal")
    admin: dict[str, Any] = {
        "id": admin_id,
        "name": body.admin_name,
        "email": body.admin_email,
        "kind": "person",
        "roles": [Role.ADMIN.value],
        "status": "active",
        "created_at": at,
        "updated_at": at,
        "revision": 1,
    }
    key = new_key_item(admin_id, "initial admin key", None, issued_by=PLATFORM_PRINCIPAL)
    token = key.pop("token")
    view = key_view(key)
    result = TenantCreated(
        tenant=to_model(Tenant, tenant),
        admin=to_model(Principal, admin),
        api_key=ApiKeyCreated(**view.model_dump(), secret=token),
    )
    unit = (
        UnitOfWork()
        .add("tenant", tenants.put_new(tenant))
        .add("admin", store.principals.put_new(admin))
        .add("admins", store.principals.count_admins(1))
        .add("key", store.principals.put_new_key(key))
    )
    unit.record(
        "tenant.created",
        "tenant",
        tenant_id,
        after={
            "tenant": public(result.tenant),
            "admin": public(result.admin),
            "api_key": public(view),
        },
    )
    unit.emit(
        events.TENANT_CREATED.of(result.tenant),
        events.PRINCIPAL_CREATED.of(result.admin),
        events.API_KEY_CREATED.of(view),
    )
    unit.replay_answer(claim.response(_redacted(result)) if claim else None)
    store.commit(actor.in_tenant(tenant_id), unit)
    return result


def _redacted(result: TenantCreated) -> TenantCreated:
    """What an idempotent replay may show: everything but the secret."""
    return result.model_copy(update={"api_key": result.api_key.model_copy(update={"secret": None})})


def get_tenant(tenant_id: str) -> Tenant:
    """The tenant `tenant_id` (404 otherwise)."""
    return to_model(Tenant, reads.tenant_item(tenant_id))


def update_tenant(
    actor: Actor, tenant_id: str, patch: TenantPatch, if_match: Callable[[int], int]
) -> Tenant:
    """Rename, suspend or reactivate a tenant; suspension locks out its keys."""
    current = get_tenant(tenant_id)
    revision = if_match(current.revision)
    merged = merge_patch(public(current), patch, required=TENANT_NOT_NULL)
    merged.update(updated_at=timestamp(), revision=revision + 1)
    updated = Tenant.model_validate(merged)
    before, after = diff(public(current), public(updated))
    kind = events.TENANT_UPDATED
    if "status" in after:
        suspended = updated.status == "suspended"
        kind = events.TENANT_SUSPENDED if suspended else events.TENANT_REACTIVATED
    unit = UnitOfWork().add(
        "tenant",
        tenants.put_replace(public(updated), revision),
        lambda: PreconditionFailedError("the tenant changed since it was read"),
    )
    unit.record(kind.name, "tenant", tenant_id, before=before, after=after)
    unit.emit(kind.of(updated)).invalidates(tenant_id)
    for_tenant(tenant_id).commit(actor.in_tenant(tenant_id), unit)
    return updated


def issue_admin_key(
    actor: Actor, tenant_id: str, body: AdminKeyIssue, claim: Claim | None = None
) -> ApiKeyCreated:
    """Break-glass: the platform issues a key for one of a tenant's active admins, when the
    tenant has no usable admin key left. Recorded in the tenant's own audit chain, with the
    operator's reason, and announced to the tenant as `tenant.admin_key_issued`."""
    get_tenant(tenant_id)
    store = for_tenant(tenant_id)
    principal_id = body.principal_id or _earliest_admin(store)
    expires_at = body.expires_at or datetime.now(UTC) + BREAK_GLASS_DEFAULT
    if expires_at > datetime.now(UTC) + BREAK_GLASS_LONGEST:
        raise DomainRuleError(
            "a break-glass key lives at most 7 days",
            errors=[FieldError("body.expires_at", "more than 7 days ahead")],
        )
    issued = new_key_item(principal_id, body.name, expires_at, issued_by=PLATFORM_PRINCIPAL)
    item = {**issued, "break_glass": True}
    token = item.pop("token")
    view = key_view(item)
    not_admin = DomainRuleError(
        f"{principal_id} is not an active admin of this tenant",
        errors=[FieldError("body.principal_id", "no such active admin")],
    )
    unit = UnitOfWork()
    unit.add(
        "admin",
        store.principals.check_active(principal_id, role=Role.ADMIN.value),
        lambda: not_admin,
    )
    unit.add("key", store.principals.put_new_key(item))
    after: dict[str, Any] = {**public(view), "reason": body.reason}
    unit.record("tenant.admin_key_issued", "api_key", view.id, after=after)
    unit.emit(events.ADMIN_KEY_ISSUED.of(ApiKey.model_validate(public(view))))
    result = ApiKeyCreated(**view.model_dump(), secret=token)
    unit.replay_answer(
        claim.response(result.model_copy(update={"secret": None})) if claim else None
    )
    store.commit(actor.in_tenant(tenant_id), unit)
    return result


def _earliest_admin(store: TenantStore) -> str:
    """The active admin who has been one longest (principal ids are time-ordered)."""
    start = None
    for _ in range(50):
        items, start = store.principals.list_page(100, start)
        for principal in items:
            if principal.get("status") == "active" and Role.ADMIN.value in principal["roles"]:
                return str(principal["id"])
        if not start:
            break
    raise DomainRuleError(
        "the tenant has no active admin to issue a key for",
        errors=[FieldError("body.principal_id", "no active admin")],
    )
