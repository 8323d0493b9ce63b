"""Keys record who issued them, and a principal rotates its own keys to make them its own."""

from __future__ import annotations

import boto3

from chalicelib import auth
from tests.conftest import JUDGES, PLATFORM_KEY, Api, Tenant, make_tenant, own_keys
from tests.harness.world import key_id_of, rotate


def rotate_path(key_id: str) -> str:
    return f"/v1/me/api-keys/{key_id}/rotate"


def issue(api: Api, tenant: Tenant, person: str, name: str = "second") -> dict[str, str]:
    answer = api.post(
        "/v1/api-keys", tenant.keys["admin"], {"principal_id": tenant.ids[person], "name": name}
    )
    assert answer.status == 201, answer.json
    return dict(answer.json)


def test_a_key_an_admin_issued_is_not_its_holders_own_until_the_holder_rotates_it(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN the approver's key, issued by the admin
    issued = tenant.keys["approver"]
    me = api.get("/v1/me", issued).json
    assert (me["key_issued_by"], me["own_key"]) == (tenant.ids["admin"], False)
    # WHEN the approver rotates it
    answer = api.post(rotate_path(key_id_of(issued)), issued)
    # THEN a new key is answered once, with its secret, issued by the approver itself
    assert answer.status == 201, answer.json
    new = answer.json
    assert answer.headers["location"] == f"/v1/api-keys/{new['id']}"
    assert new["secret"].startswith(f"cus_{new['id']}_")
    assert (new["issued_by"], new["rotated_from"]) == (tenant.ids["approver"], key_id_of(issued))
    assert new["principal_id"] == tenant.ids["approver"] and new["status"] == "active"
    me = api.get("/v1/me", new["secret"]).json
    assert (me["key_issued_by"], me["own_key"]) == (tenant.ids["approver"], True)
    # AND the old key is revoked
    old = api.get("/v1/me", issued)
    assert old.status == 401 and "revoked" in old.json["detail"]
    listed = api.get(f"/v1/api-keys/{key_id_of(issued)}", tenant.keys["admin"]).json
    assert listed["status"] == "revoked"


def test_a_rotation_is_audited_with_the_key_that_asked_for_it_and_who_issued_that_key(
    api: Api, tenant: Tenant
) -> None:
    old = key_id_of(tenant.keys["validator"])
    new = key_id_of(rotate(api, tenant.keys["validator"]))
    events = api.get("/v1/audit-events?limit=100", tenant.keys["auditor"]).json["items"]
    rotated = events[-1]
    assert (rotated["action"], rotated["subject"]["id"]) == ("api_key.rotated", old)
    assert rotated["before"] == {"revoked_at": None} and rotated["after"]["revoked_at"]
    replacement = rotated["after"]["replaced_by"]
    assert (replacement["id"], replacement["rotated_from"]) == (new, old)
    assert replacement["issued_by"] == tenant.ids["validator"]
    assert rotated["actor"] == {
        "kind": "principal",
        "principal_id": tenant.ids["validator"],
        "key_id": old,
        "key_issued_by": tenant.ids["admin"],
        "system": None,
    }


def test_nobody_rotates_another_principals_key_or_another_tenants(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    # GIVEN keys of another principal of the tenant, and of another tenant
    approvers = key_id_of(tenant.keys["approver"])
    foreign = key_id_of(other_tenant.keys["validator"])
    key = tenant.keys["validator"]
    # WHEN the validator asks to rotate them, or a key that does not exist
    answers = [
        api.post(rotate_path(k), key) for k in (approvers, foreign, "key_" + "0" * 26, "nope")
    ]
    # THEN each is a 404, alike, and both keys still work
    assert [a.status for a in answers] == [404] * 4
    assert len({(a.json["type"], a.json["title"]) for a in answers}) == 1
    assert api.get("/v1/me", tenant.keys["approver"]).status == 200
    assert api.get("/v1/me", other_tenant.keys["validator"]).status == 200


def test_a_revoked_key_cannot_be_rotated_and_the_platform_rotates_nothing(
    api: Api, tenant: Tenant
) -> None:
    second = issue(api, tenant, "validator")
    assert api.delete(f"/v1/api-keys/{second['id']}", tenant.keys["admin"]).status == 204
    refused = api.post(rotate_path(second["id"]), tenant.keys["validator"])
    assert refused.status == 409 and "revoked or expired" in refused.json["detail"]
    platform = api.post(rotate_path(second["id"]), PLATFORM_KEY)
    assert platform.status == 403


def test_a_principal_rotates_one_of_its_keys_with_another_and_a_retry_replays_it(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN the approver holds a second key, with an expiry the admin chose
    second = api.post(
        "/v1/api-keys",
        tenant.keys["admin"],
        {
            "principal_id": tenant.ids["approver"],
            "name": "laptop",
            "expires_at": "2099-01-01T00:00:00Z",
        },
    ).json
    headers = {"Idempotency-Key": "rotate-laptop"}
    # WHEN it rotates that key with its first one, and the request is sent again
    first = api.post(rotate_path(second["id"]), tenant.keys["approver"], headers=headers)
    again = api.post(rotate_path(second["id"]), tenant.keys["approver"], headers=headers)
    # THEN one new key, keeping the name and expiry; the replay shows no secret
    assert first.status == 201 and first.json["secret"]
    assert (first.json["name"], first.json["expires_at"]) == ("laptop", "2099-01-01T00:00:00Z")
    assert again.status == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json["id"] == first.json["id"] and again.json["secret"] is None
    keys = api.get(
        f"/v1/api-keys?principal_id={tenant.ids['approver']}", tenant.keys["admin"]
    ).json["items"]
    assert sorted(k["status"] for k in keys) == ["active", "active", "revoked"]
    assert api.get("/v1/me", first.json["secret"]).json["own_key"] is True


def test_the_platform_issues_a_tenants_first_admin_key_and_an_admin_a_key_for_itself(
    api: Api,
) -> None:
    tenant = make_tenant(api, "Initech")
    me = api.get("/v1/me", tenant.keys["admin"]).json
    assert (me["key_issued_by"], me["own_key"]) == ("platform", False)
    mine = api.post(
        "/v1/api-keys", tenant.keys["admin"], {"principal_id": tenant.ids["admin"], "name": "own"}
    ).json
    assert mine["issued_by"] == tenant.ids["admin"]
    assert api.get("/v1/me", mine["secret"]).json["own_key"] is True


def test_the_harness_gives_the_judges_keys_of_their_own_and_keeps_the_issued_ones(
    api: Api,
) -> None:
    tenant = make_tenant(api, "Umbrella", own_keys_for=JUDGES)
    for person in JUDGES:
        assert api.get("/v1/me", tenant.keys[person]).json["own_key"] is True, person
        assert api.get("/v1/me", tenant.issued_keys[person]).status == 401, person
    assert api.get("/v1/me", tenant.keys["developer"]).json["own_key"] is False
    assert own_keys(api, tenant, "validator") is tenant  # once is enough: no second rotation
    assert api.get("/v1/me", tenant.keys["validator"]).status == 200


def test_a_principal_lists_its_own_keys_with_who_issued_each_and_nobody_elses(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN the approver's admin-issued key, rotated, and a second key the admin issued
    issued = key_id_of(tenant.keys["approver"])
    own_keys(api, tenant, "approver")
    second = issue(api, tenant, "approver")
    # WHEN the approver lists its keys, a page at a time
    first = api.get("/v1/me/api-keys?limit=2", tenant.keys["approver"]).json
    rest = api.get(
        f"/v1/me/api-keys?limit=2&cursor={first['next_cursor']}", tenant.keys["approver"]
    ).json
    keys = {k["id"]: k for k in first["items"] + rest["items"]}
    # THEN it sees all three and who issued each, and no other principal's
    assert set(keys) == {issued, key_id_of(tenant.keys["approver"]), second["id"]}
    assert keys[issued]["status"] == "revoked"
    assert keys[second["id"]]["issued_by"] == tenant.ids["admin"]
    assert keys[key_id_of(tenant.keys["approver"])]["issued_by"] == tenant.ids["approver"]
    assert {k["principal_id"] for k in keys.values()} == {tenant.ids["approver"]}


def test_the_judges_fixture_is_the_tenant_with_its_judges_own_keys(
    api: Api, tenant: Tenant, judges: Tenant
) -> None:
    assert judges is tenant
    assert all(api.get("/v1/me", judges.keys[p]).json["own_key"] for p in JUDGES)


def test_a_key_stored_before_issuers_were_recorded_is_nobodys_own_until_rotated(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    # GIVEN the approver's key item as keys were stored before they recorded an issuer
    key_id = key_id_of(tenant.keys["approver"])
    boto3.client("dynamodb").update_item(
        TableName=aws["CUSTOS_TABLE"],
        Key={"pk": {"S": f"APIKEY#{key_id}"}, "sk": {"S": "APIKEY"}},
        UpdateExpression="REMOVE issued_by",
    )
    auth.clear_cache()
    # THEN it authenticates, but is not the approver's own
    me = api.get("/v1/me", tenant.keys["approver"]).json
    assert (me["key_issued_by"], me["own_key"]) == (None, False)
    model = api.post(
        "/v1/models", tenant.keys["developer"], {"name": "M", "purpose": "p", "risk_tier": 2}
    ).json
    body = {"risk_tier": 2, "regulatory_scope": []}
    path = f"/v1/models/{model['id']}/classification"
    refused = api.call("POST", path, tenant.keys["approver"], body, {"If-Match": '"1"'})
    assert refused.status == 403 and "predates issuer records" in refused.json["detail"]
    # AND once the approver rotates it, the new key is
    own_keys(api, tenant, "approver")
    accepted = api.call("POST", path, tenant.keys["approver"], body, {"If-Match": '"1"'})
    assert accepted.status == 200, accepted.json
