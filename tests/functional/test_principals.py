"""Admins manage principals and API keys; keys are secrets shown once."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Api, Tenant
from tests.harness.world import secret_part


def test_admin_adds_a_principal_and_issues_a_key_shown_once(api: Api, tenant: Tenant) -> None:
    admin = tenant.keys["admin"]
    person = api.post(
        "/v1/principals",
        admin,
        {"name": "Quinn", "email": "q@acme.example", "roles": ["validator"]},
    )
    assert (
        person.status == 201 and person.headers["location"] == f"/v1/principals/{person.json['id']}"
    )
    key = api.post("/v1/api-keys", admin, {"principal_id": person.json["id"], "name": "laptop"})
    assert key.status == 201
    secret = key.json["secret"]
    assert api.get("/v1/me", secret).json["roles"] == ["validator"]
    listed = api.get(f"/v1/api-keys?principal_id={person.json['id']}", admin)
    assert [k["id"] for k in listed.json["items"]] == [key.json["id"]]
    text = listed.raw.decode()
    assert secret_part(secret) not in text and "secret" not in text and "hash" not in text


def test_revoked_key_is_refused_on_the_next_request(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["developer"]
    key_id = "_".join(key.split("_")[1:3])
    assert api.get("/v1/models", key).status == 200
    assert api.delete(f"/v1/api-keys/{key_id}", tenant.keys["admin"]).status == 204
    refused = api.get("/v1/models", key)
    assert refused.status == 401 and refused.json["detail"] == "the API key was revoked"
    listed = api.get("/v1/api-keys", tenant.keys["admin"]).json["items"]
    assert [k["status"] for k in listed if k["id"] == key_id] == ["revoked"]


def test_revocation_reaches_other_warm_processes_within_the_cache_time(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a warm process that cached the key, with a short cache time
    from chalicelib import auth
    from chalicelib.config import settings
    from chalicelib.store import dynamo, keys

    monkeypatch.setenv("CUSTOS_AUTH_CACHE_SECONDS", "0.2")
    settings.cache_clear()
    key = tenant.keys["validator"]
    key_id = "_".join(key.split("_")[1:3])
    assert api.get("/v1/models", key).status == 200
    # WHEN another process revokes it (written straight to the table: this process's cache stays)
    dynamo.client("dynamodb").update_item(
        TableName=dynamo.table_name(),
        Key=dynamo.serialize(keys.api_key_key(key_id)),
        UpdateExpression="SET revoked_at = :at",
        ExpressionAttributeValues={":at": {"S": "2026-01-01T00:00:00Z"}},
    )
    # THEN once the cache time has passed, the key is refused
    import time

    time.sleep(0.3)
    assert api.get("/v1/models", key).status == 401
    auth.clear_cache()


def test_expired_keys_are_refused_and_keys_cannot_be_born_expired(api: Api, tenant: Tenant) -> None:
    admin = tenant.keys["admin"]
    past = api.post(
        "/v1/api-keys",
        admin,
        {
            "principal_id": tenant.ids["auditor"],
            "name": "old",
            "expires_at": "2020-01-01T00:00:00Z",
        },
    )
    assert past.status == 422 and past.json["errors"][0]["field"] == "body.expires_at"
    soon = api.post(
        "/v1/api-keys",
        admin,
        {
            "principal_id": tenant.ids["auditor"],
            "name": "soon",
            "expires_at": "2099-01-01T00:00:00+00:00",
        },
    )
    assert soon.status == 201 and soon.json["expires_at"].startswith("2099-01-01")


def test_a_key_for_an_unknown_principal_is_refused_and_nothing_is_stored(
    api: Api, tenant: Tenant
) -> None:
    admin = tenant.keys["admin"]
    before = api.get("/v1/api-keys?limit=100", admin).json["items"]
    answer = api.post(
        "/v1/api-keys", admin, {"principal_id": "prn_01ARZ3NDEKTSV4RRFFQ69G5FAV", "name": "ghost"}
    )
    assert answer.status == 422 and answer.json["errors"][0]["field"] == "body.principal_id"
    assert api.get("/v1/api-keys?limit=100", admin).json["items"] == before


def test_role_changes_are_audited_and_take_effect(api: Api, tenant: Tenant) -> None:
    admin = tenant.keys["admin"]
    path = f"/v1/principals/{tenant.ids['monitor']}"
    etag = api.get(path, admin).headers["etag"]
    changed = api.patch(path, admin, {"roles": ["monitor", "auditor"]}, etag)
    assert changed.status == 200 and changed.json["roles"] == ["auditor", "monitor"]
    from chalicelib import auth

    auth.clear_cache()
    assert api.get("/v1/audit-events", tenant.keys["monitor"]).status == 200
    events = api.get("/v1/audit-events?limit=100", admin).json["items"]
    # the monitor's read, now an auditor's, is the last entry; the change comes before it
    assert events[-1]["action"] == "audit.read"
    assert events[-1]["actor"]["principal_id"] == tenant.ids["monitor"]
    last = events[-2]
    assert last["action"] == "principal.roles_changed"
    assert last["before"] == {
        "revision": 1,
        "roles": ["monitor"],
        "updated_at": last["before"]["updated_at"],
    }
    assert last["after"]["roles"] == ["auditor", "monitor"]
    assert last["actor"]["principal_id"] == tenant.ids["admin"]


def test_a_deactivated_principal_cannot_use_its_keys(api: Api, tenant: Tenant) -> None:
    admin = tenant.keys["admin"]
    path = f"/v1/principals/{tenant.ids['approver2']}"
    assert api.patch(path, admin, {"status": "deactivated"}, '"1"').status == 200
    from chalicelib import auth

    auth.clear_cache()
    assert api.get("/v1/models", tenant.keys["approver2"]).status == 401


def test_principal_patch_needs_if_match_and_refuses_nulls_for_required_fields(
    api: Api, tenant: Tenant
) -> None:
    admin = tenant.keys["admin"]
    path = f"/v1/principals/{tenant.ids['auditor']}"
    assert api.patch(path, admin, {"name": "X"}).status == 428
    assert api.patch(path, admin, {"name": "X"}, '"7"').status == 412
    nulled = api.patch(path, admin, {"roles": None}, '"1"')
    assert nulled.status == 400 and nulled.json["errors"][0]["field"] == "body.roles"
    cleared = api.patch(path, admin, {"email": None, "name": "Otto"}, '"1"')
    assert cleared.status == 200 and cleared.json["email"] is None
    assert json.loads(api.get(path, admin).raw)["name"] == "Otto"


def test_an_admin_cannot_lock_themselves_out(api: Api, tenant: Tenant) -> None:
    admin = tenant.keys["admin"]
    path = f"/v1/principals/{tenant.ids['admin']}"
    demoted = api.patch(path, admin, {"roles": ["auditor"]}, '"1"')
    assert demoted.status == 422 and demoted.json["errors"][0]["field"] == "body.roles"
    gone = api.patch(path, admin, {"status": "deactivated"}, '"1"')
    assert gone.status == 422 and gone.json["errors"][0]["field"] == "body.status"
    widened = api.patch(path, admin, {"roles": ["admin", "auditor"]}, '"1"')
    assert widened.status == 200 and widened.json["roles"] == ["admin", "auditor"]


def test_api_keys_page_through_with_cursors(api: Api, tenant: Tenant) -> None:
    admin = tenant.keys["admin"]
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = api.get("/v1/api-keys?limit=3" + (f"&cursor={cursor}" if cursor else ""), admin)
        assert page.status == 200, page.json
        seen += [k["id"] for k in page.json["items"]]
        cursor = page.json["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 9  # the admin's key and one per person
    mine = api.get(f"/v1/api-keys?limit=1&principal_id={tenant.ids['developer']}", admin).json
    assert len(mine["items"]) == 1


def test_admins_demoting_each_other_can_never_leave_the_tenant_without_one(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a second admin whose roles another process still has cached
    admin = tenant.keys["admin"]
    second = api.post("/v1/principals", admin, {"name": "Second admin", "roles": ["admin"]}).json
    second_key = api.post("/v1/api-keys", admin, {"principal_id": second["id"], "name": "k"}).json
    api.get("/v1/me", second_key["secret"])  # cached as admin
    # WHEN the first admin demotes the second, and the second (still cached) demotes the first
    assert (
        api.patch(f"/v1/principals/{second['id']}", admin, {"roles": ["auditor"]}, '"1"').status
        == 200
    )
    import time

    from chalicelib import auth
    from chalicelib.store import principals

    entry = principals.lookup_key(second_key["id"])
    assert entry is not None
    auth._cache[second_key["id"]] = auth._Entry(  # another process's stale view
        key=entry,
        tenant={"status": "active"},
        principal={"status": "active", "roles": ["admin"]},
        fetched=time.monotonic(),
    )
    answer = api.patch(
        f"/v1/principals/{tenant.ids['admin']}", second_key["secret"], {"roles": ["auditor"]}, '"1"'
    )
    # THEN the last admin stays an admin
    assert answer.status == 422 and "at least one active admin" in answer.json["detail"]
    assert api.get("/v1/me", admin).json["roles"] == ["admin"]
