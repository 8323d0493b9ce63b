"""The platform operator creates, lists and suspends tenants."""

from __future__ import annotations

from tests.conftest import PLATFORM_KEY, Api, Tenant


def test_platform_creates_a_tenant_with_an_admin_whose_key_works(api: Api) -> None:
    created = api.post(
        "/v1/tenants",
        PLATFORM_KEY,
        {"name": "Initech", "admin_name": "Bill", "admin_email": "bill@initech.example"},
    )
    assert created.status == 201
    body = created.json
    assert created.headers["location"] == f"/v1/tenants/{body['tenant']['id']}"
    assert body["admin"]["roles"] == ["admin"]
    assert body["api_key"]["secret"].startswith(f"cus_{body['api_key']['id']}_")
    me = api.get("/v1/me", body["api_key"]["secret"]).json
    assert me == {
        "principal_id": body["admin"]["id"],
        "tenant_id": body["tenant"]["id"],
        "key_id": body["api_key"]["id"],
        "key_issued_by": "platform",
        "own_key": False,
        "roles": ["admin"],
        "platform": False,
        "name": "Bill",
    }


def test_platform_lists_and_reads_tenants(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    listed = api.get("/v1/tenants?limit=1", PLATFORM_KEY).json
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    rest = api.get(f"/v1/tenants?limit=1&cursor={listed['next_cursor']}", PLATFORM_KEY).json
    assert {listed["items"][0]["id"], rest["items"][0]["id"]} == {tenant.id, other_tenant.id}
    one = api.get(f"/v1/tenants/{tenant.id}", PLATFORM_KEY)
    assert one.status == 200 and one.json["name"] == "Acme" and one.headers["etag"] == '"1"'


def test_a_suspended_tenants_keys_get_403_until_it_is_reactivated(api: Api, tenant: Tenant) -> None:
    suspended = api.patch(f"/v1/tenants/{tenant.id}", PLATFORM_KEY, {"status": "suspended"}, '"1"')
    assert suspended.status == 200 and suspended.json["status"] == "suspended"
    from chalicelib import auth

    auth.clear_cache()  # another Lambda instance would see it within the cache time
    denied = api.get("/v1/models", tenant.keys["developer"])
    assert denied.status == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert (
        api.patch(f"/v1/tenants/{tenant.id}", PLATFORM_KEY, {"status": "active"}, '"2"').status
        == 200
    )
    auth.clear_cache()
    assert api.get("/v1/models", tenant.keys["developer"]).status == 200


def test_platform_key_cannot_reach_inside_a_tenant_and_tenant_keys_cannot_manage_tenants(
    api: Api, tenant: Tenant
) -> None:
    assert api.get("/v1/models", PLATFORM_KEY).status == 403
    assert api.get("/v1/tenants", tenant.keys["admin"]).status == 403
    assert api.get("/v1/tenants", "cusp_wrong").status == 401


def test_tenant_creation_is_audited_in_the_new_tenants_chain(api: Api, tenant: Tenant) -> None:
    events = api.get("/v1/audit-events?limit=1", tenant.keys["auditor"]).json["items"]
    assert events[0]["seq"] == 1 and events[0]["action"] == "tenant.created"
    assert events[0]["actor"]["kind"] == "platform"
