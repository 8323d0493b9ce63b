"""A tenant keeps a way in: some active admin holds a usable API key.

Revoking a key or demoting an admin must not leave the tenant with admins nobody can act
as. The change carries condition checks on one other usable admin key and on its admin
(the acting admin's own key when it can be, so no extra read is needed); a concurrent
change that revokes or demotes that one fails the check, and the service re-reads. When no
other usable admin key exists the change is refused (422). Keys that expire on their own
are the platform's to mend: it can issue a break-glass key for a tenant's admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.actors import Actor
from chalicelib.domain.roles import Role
from chalicelib.errors import DomainRuleError, FieldError, TransientConflictError
from chalicelib.store.scope import TenantStore
from chalicelib.store.unit import RetryError, UnitOfWork

SEARCH_PAGES = 10


def usable(key: dict[str, Any]) -> bool:
    """Whether a key item still authenticates: not revoked, not expired."""
    if key.get("revoked_at"):
        return False
    expires = key.get("key_expires_at")
    return not expires or datetime.fromisoformat(expires) > datetime.now(UTC)


def _is_active_admin(principal: dict[str, Any] | None) -> bool:
    return bool(
        principal
        and principal.get("status") == "active"
        and Role.ADMIN.value in principal.get("roles", [])
    )


def held_by_admin(store: TenantStore, actor: Actor, principal_id: str) -> bool:
    """Whether `principal_id` is an active admin (the acting admin without a read)."""
    if actor.is_principal and principal_id == actor.principal_id:
        return actor.has_any(Role.ADMIN)
    return _is_active_admin(store.principals.get(principal_id))


def keep_a_way_in(
    store: TenantStore,
    unit: UnitOfWork,
    actor: Actor,
    *,
    leaving_key: str | None = None,
    leaving_principal: str | None = None,
) -> None:
    """Add to `unit` the checks that another usable admin key survives it; 422 if none."""
    found = _other_admin_key(store, actor, leaving_key, leaving_principal)
    if found is None:
        raise DomainRuleError(
            "this would leave the tenant without a usable admin key; issue another admin key first",
            errors=[FieldError("path", "the tenant's last usable admin key")],
        )
    key_id, principal_id = found
    unit.add("way-in:key", store.principals.check_key_usable(key_id), RetryError)
    unit.add(
        "way-in:admin",
        store.principals.check_active(principal_id, role=Role.ADMIN.value),
        RetryError,
    )


def _other_admin_key(
    store: TenantStore, actor: Actor, leaving_key: str | None, leaving_principal: str | None
) -> tuple[str, str] | None:
    """(key id, principal id) of a usable admin key other than those leaving."""
    own = actor.key_id if actor.is_principal and actor.has_any(Role.ADMIN) else None
    if own and own != leaving_key and actor.principal_id != leaving_principal:
        return own, str(actor.principal_id)
    for batch in _candidate_keys(store, leaving_key, leaving_principal):
        principals = store.principals.get_many([k["principal_id"] for k in batch])
        admins = {p["id"] for p in principals if _is_active_admin(p)}
        for key in batch:
            if key["principal_id"] in admins:
                return key["id"], key["principal_id"]
    return None


def _candidate_keys(
    store: TenantStore, leaving_key: str | None, leaving_principal: str | None
) -> Iterator[list[dict[str, Any]]]:
    start = None
    for _ in range(SEARCH_PAGES):
        items, start = store.principals.list_keys_page(100, start)
        batch = [
            k
            for k in items
            if usable(k) and k["id"] != leaving_key and k["principal_id"] != leaving_principal
        ]
        if batch:
            yield batch
        if not start:
            return


def busy() -> TransientConflictError:
    return TransientConflictError("the tenant's keys changed concurrently; retry")
