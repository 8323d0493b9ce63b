"""A tenant always keeps a way in: usable admin keys, and the platform's break-glass."""

from __future__ import annotations

from tests.conftest import PLATFORM_KEY, Api, Tenant
from tests.functional.route_fixtures import items_of
from tests.harness import world


def test_a_created_key_is_readable_at_its_location_without_its_secret(
    api: Api, tenant: Tenant
) -> None:
    admin = tenant.keys["admin"]
    created = api.post(
        "/v1/api-keys", admin, {"principal_id": tenant.ids["auditor"], "name": "second"}
    )
    assert created.status == 201
    read = api.get(created.headers["location"], admin)
    assert read.status == 200
    assert read.json["id"] == created.json["id"] and read.json["status"] == "active"
    assert "secret" not in read.json and "secret_hash" not in read.json


def test_a_new_tenant_answers_the_etag_its_suspension_needs(api: Api) -> None:
    created = api.post(
        "/v1/tenants",
        PLATFORM_KEY,
        {"name": "Initech", "admin_name": "Ann", "admin_email": "ann@initech.example"},
    )
    assert created.status == 201 and created.headers["etag"] == '"1"'
    suspended = api.patch(
        created.headers["location"], PLATFORM_KEY, {"status": "suspended"}, created.headers["etag"]
    )
    assert suspended.status == 200 and suspended.json["status"] == "suspended"


def only_admin_tenant(api: Api, name: str = "Solo") -> Tenant:
    return world.make_tenant(api, name, PLATFORM_KEY, people={})


def test_the_last_usable_admin_key_cannot_be_revoked(api: Api) -> None:
    # GIVEN a tenant whose only admin holds one key
    tenant = only_admin_tenant(api)
    admin = tenant.keys["admin"]
    (key,) = items_of(api, "/v1/api-keys", admin)
    # WHEN the admin revokes it
    answer = api.delete(f"/v1/api-keys/{key['id']}", admin)
    # THEN it is refused, and the key still works
    assert answer.status == 422, answer.json
    assert "usable admin key" in answer.json["detail"]
    assert api.get("/v1/me", admin).status == 200


def test_an_admin_key_can_be_revoked_while_another_remains(api: Api) -> None:
    tenant = only_admin_tenant(api)
    admin = tenant.keys["admin"]
    (first,) = items_of(api, "/v1/api-keys", admin)
    second = api.post("/v1/api-keys", admin, {"principal_id": tenant.ids["admin"], "name": "2"})
    # WHEN the admin, calling with the second key, revokes the first
    answer = api.delete(f"/v1/api-keys/{first['id']}", second.json["secret"])
    # THEN it is revoked; the second key, now the last, cannot be
    assert answer.status == 204
    assert api.get("/v1/me", admin).status == 401
    last = api.delete(f"/v1/api-keys/{second.json['id']}", second.json["secret"])
    assert last.status == 422


def test_demoting_the_admin_who_holds_the_usable_keys_is_refused(api: Api) -> None:
    # GIVEN two admins, the second of whom has no key
    tenant = only_admin_tenant(api)
    admin = tenant.keys["admin"]
    other = api.post("/v1/principals", admin, {"name": "Keyless", "roles": ["admin"]}).json
    # THEN the first cannot deactivate themselves (nobody else could act as admin)
    me = api.patch(f"/v1/principals/{tenant.ids['admin']}", admin, {"status": "deactivated"}, '"1"')
    assert me.status == 422
    # AND demoting the keyless admin is fine: the acting admin keeps a way in
    demoted = api.patch(f"/v1/principals/{other['id']}", admin, {"roles": ["auditor"]}, '"1"')
    assert demoted.status == 200


def test_the_platform_issues_a_break_glass_key_audited_in_the_tenants_chain(api: Api) -> None:
    # GIVEN a tenant whose admin key has expired (here: the platform suspends nothing; the
    # admin simply lost it) and the platform's break-glass
    tenant = only_admin_tenant(api)
    issued = api.post(
        f"/v1/tenants/{tenant.id}/admin-keys",
        PLATFORM_KEY,
        {"name": "break-glass", "reason": "admin lost every key (ticket OPS-1)"},
    )
    # THEN a key for the tenant's admin, expiring within a day, is shown once
    assert issued.status == 201, issued.json
    assert issued.json["principal_id"] == tenant.ids["admin"]
    assert issued.json["expires_at"] is not None
    assert api.get("/v1/me", issued.json["secret"]).json["roles"] == ["admin"]
    assert api.get(issued.headers["location"], PLATFORM_KEY).json["id"] == issued.json["id"]
    # the platform reads only what it issued, never the tenant's own keys
    keys = items_of(api, "/v1/api-keys", tenant.keys["admin"])
    (own,) = [k for k in keys if k["id"] != issued.json["id"]]
    own_path = f"/v1/tenants/{tenant.id}/admin-keys/{own['id']}"
    assert api.get(own_path, PLATFORM_KEY).status == 404
    # AND the tenant's own trail records it with the operator's reason
    events = items_of(api, "/v1/audit-events", tenant.keys["admin"])
    last = events[-1]
    assert last["action"] == "tenant.admin_key_issued"
    assert last["actor"]["kind"] == "platform" and "OPS-1" in last["after"]["reason"]
    verified = api.get("/v1/audit/verify?full=true", tenant.keys["admin"]).json
    assert verified["valid"]


def test_break_glass_only_for_an_active_admin_of_that_tenant(api: Api) -> None:
    tenant = only_admin_tenant(api)
    other = only_admin_tenant(api, "Other")
    answer = api.post(
        f"/v1/tenants/{tenant.id}/admin-keys",
        PLATFORM_KEY,
        {
            "principal_id": other.ids["admin"],
            "name": "break-glass",
            "reason": "wrong tenant's admin",
        },
    )
    assert answer.status == 422
    too_long = api.post(
        f"/v1/tenants/{tenant.id}/admin-keys",
        PLATFORM_KEY,
        {"name": "bg", "reason": "needs a long one", "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert too_long.status == 422
