"""A change to a key, a principal or a tenant takes effect in this process at once, and
drops only the cached key lookups it makes stale: the next request of anyone else is
still served without looking its key up again (docs/architecture.md, section 9: cached in
a warm process)."""

from __future__ import annotations

from tests.conftest import PLATFORM_KEY, Api, Tenant


def cached_key_ids(tenant: Tenant, *people: str) -> set[str]:
    """Which of `people`'s keys the process has cached, after each made a request."""
    from chalicelib import auth

    return {
        person
        for person in people
        if (match := auth._TOKEN.match(tenant.keys[person])) and match.group(1) in auth._cache
    }


def test_revoking_a_key_rejects_it_at_once_and_keeps_other_keys_cached(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN the admin, a developer and a validator have each been served
    for person in ("admin", "developer", "validator"):
        assert api.get("/v1/me", tenant.keys[person]).status == 200
    validator_key = api.get("/v1/me", tenant.keys["validator"]).json["key_id"]
    # WHEN the admin revokes the validator's key
    assert api.delete(f"/v1/api-keys/{validator_key}", tenant.keys["admin"]).status == 204
    # THEN that key is refused at once, and the others are still cached
    assert cached_key_ids(tenant, "admin", "developer", "validator") == {"admin", "developer"}
    assert api.get("/v1/me", tenant.keys["validator"]).status == 401


def test_changing_a_principals_roles_applies_at_once_and_keeps_other_keys_cached(
    api: Api, tenant: Tenant
) -> None:
    for person in ("admin", "developer", "monitor"):
        assert api.get("/v1/me", tenant.keys[person]).status == 200
    path = f"/v1/principals/{tenant.ids['monitor']}"
    assert api.patch(path, tenant.keys["admin"], {"roles": ["auditor"]}, '"1"').status == 200
    assert cached_key_ids(tenant, "admin", "developer", "monitor") == {"admin", "developer"}
    assert api.get("/v1/me", tenant.keys["monitor"]).json["roles"] == ["auditor"]


def test_suspending_a_tenant_applies_at_once_and_keeps_other_tenants_keys_cached(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert api.get("/v1/me", tenant.keys["developer"]).status == 200
    assert api.get("/v1/me", other_tenant.keys["developer"]).status == 200
    suspended = api.patch(f"/v1/tenants/{tenant.id}", PLATFORM_KEY, {"status": "suspended"}, '"1"')
    assert suspended.status == 200
    assert cached_key_ids(tenant, "developer") == set()
    assert cached_key_ids(other_tenant, "developer") == {"developer"}
    assert api.get("/v1/me", tenant.keys["developer"]).status == 403
