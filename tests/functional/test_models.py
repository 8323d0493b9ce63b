"""Developers keep the inventory; validators and approvers outside the team classify risk."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, Tenant, new_model, own_keys


def test_registering_a_model_answers_201_with_location_and_defaults_the_team(
    api: Api, tenant: Tenant
) -> None:
    answer = api.post(
        "/v1/models",
        tenant.keys["developer"],
        {
            "name": "Fraud score",
            "purpose": "Flag card fraud",
            "risk_tier": 1,
            "regulatory_scope": ["sr-11-7", "eu-ai-act:high"],
            "tags": ["fraud"],
            "inputs": ["transactions"],
            "outputs": ["score"],
        },
    )
    assert answer.status == 201
    model = answer.json
    assert answer.headers["location"] == f"/v1/models/{model['id']}"
    assert model["id"].startswith("mdl_") and model["status"] == "in_development"
    assert model["owner_id"] == tenant.ids["developer"]
    assert model["developer_ids"] == [tenant.ids["developer"]]
    assert model["version_count"] == 0


def test_owner_and_developers_must_be_active_principals_of_the_tenant(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = other_tenant.ids["developer"]
    answer = api.post(
        "/v1/models",
        tenant.keys["developer"],
        {
            "name": "X",
            "purpose": "Y",
            "risk_tier": 3,
            "developer_ids": [tenant.ids["developer"], foreign],
        },
    )
    assert answer.status == 422
    assert answer.json["errors"] == [
        {
            "field": "body.developer_ids[1]",
            "message": "no active principal of this tenant with the developer role",
        }
    ]
    assert api.get("/v1/models", tenant.keys["developer"]).json["items"] == []


def classify(api: Api, tenant: Tenant, model: dict[str, Any], tier: int) -> None:
    """A validator with a key of its own confirms `tier` for `model`."""
    own_keys(api, tenant, "validator")
    path = f"/v1/models/{model['id']}"
    etag = api.get(path, tenant.keys["validator"]).headers["etag"]
    body = {"risk_tier": tier, "regulatory_scope": []}
    answer = api.call(
        "POST", f"{path}/classification", tenant.keys["validator"], body, {"If-Match": etag}
    )
    assert answer.status == 200, answer.json


def test_inventory_filters_by_tier_status_owner_and_tag_and_pages_with_cursors(
    api: Api, tenant: Tenant
) -> None:
    key = tenant.keys["developer"]
    for i in range(5):
        model = new_model(
            api, tenant, name=f"m{i}", risk_tier=1 + i % 3, tags=["retail"] if i % 2 else []
        )
        classify(api, tenant, model, 1 + i % 3)
    owned = new_model(api, tenant, name="owned", owner_id=tenant.ids["developer2"], risk_tier=3)
    classify(api, tenant, owned, 3)
    assert {m["name"] for m in api.get("/v1/models?risk_tier=1", key).json["items"]} == {"m0", "m3"}
    assert {m["name"] for m in api.get("/v1/models?tag=retail", key).json["items"]} == {"m1", "m3"}
    by_owner = api.get(f"/v1/models?owner={tenant.ids['developer2']}", key).json["items"]
    assert [m["id"] for m in by_owner] == [owned["id"]]
    assert len(api.get("/v1/models?status=in_development", key).json["items"]) == 6
    seen, cursor = [], None
    for _ in range(10):
        page = api.get("/v1/models?limit=4" + (f"&cursor={cursor}" if cursor else ""), key).json
        seen += [m["name"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == ["m0", "m1", "m2", "m3", "m4", "owned"]
    filtered = api.get("/v1/models?risk_tier=3&limit=1", key).json
    rest = api.get(f"/v1/models?risk_tier=3&limit=1&cursor={filtered['next_cursor']}", key).json
    assert {filtered["items"][0]["name"], rest["items"][0]["name"]} == {"m2", "owned"}


def test_a_cursor_only_continues_the_query_that_made_it(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["developer"]
    new_model(api, tenant, name="a", risk_tier=2)  # proposals: both in force as tier 1
    new_model(api, tenant, name="b", risk_tier=3)
    cursor = api.get("/v1/models?limit=1", key).json["next_cursor"]
    other = api.get(f"/v1/models?limit=1&risk_tier=1&cursor={cursor}", key)
    assert other.status == 400 and other.json["errors"][0]["field"] == "query.cursor"
    forged = api.get(f"/v1/models?cursor={cursor[:-3]}abc", key)
    assert forged.status == 400
    garbage = api.get("/v1/models?cursor=%%%", key)
    assert garbage.status == 400


def test_patch_needs_a_current_etag(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["developer"]
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    missing = api.patch(path, key, {"purpose": "new"})
    assert missing.status == 428 and missing.json["status"] == 428
    changed = api.patch(path, key, {"purpose": "new", "intended_use": "retail"}, '"1"')
    assert changed.status == 200 and changed.headers["etag"] == '"2"'
    assert changed.json["purpose"] == "new" and changed.json["intended_use"] == "retail"
    stale = api.patch(path, key, {"purpose": "again"}, '"1"')
    assert stale.status == 412
    cleared = api.patch(path, key, {"intended_use": None}, '"2"')
    assert cleared.status == 200 and cleared.json["intended_use"] is None
    assert api.get(path, key).json["purpose"] == "new"


def test_developers_outside_the_team_cannot_edit(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    answer = api.patch(
        f"/v1/models/{model['id']}", tenant.keys["developer2"], {"purpose": "x"}, '"1"'
    )
    assert answer.status == 403


def test_a_new_version_moves_the_models_etag_so_a_stale_patch_cannot_undo_its_count(
    api: Api, tenant: Tenant
) -> None:
    key = tenant.keys["developer"]
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    assert api.post(f"{path}/versions", key, {}).status == 201
    assert api.patch(path, key, {"purpose": "stale"}, '"1"').status == 412
    fresh = api.get(path, key)
    assert fresh.json["version_count"] == 1
    assert api.patch(path, key, {"purpose": "fresh"}, fresh.headers["etag"]).status == 200
    assert api.post(f"{path}/versions", key, {}).json["number"] == 2


def test_patch_edge_cases_are_answered_not_crashed(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["developer"]
    model = new_model(api, tenant, tags=["a"], inputs=["x"])
    path = f"/v1/models/{model['id']}"
    cleared = api.patch(path, key, {"tags": None, "inputs": None}, '"1"')
    assert cleared.status == 200 and cleared.json["tags"] == [] and cleared.json["inputs"] == []
    itself = api.patch(path, key, {"upstream_model_ids": [model["id"]]}, '"2"')
    assert itself.status == 422 and itself.json["errors"][0]["field"] == "body.upstream_model_ids"
    assert api.get(f"{path}/versions/%C2%B2", key).status == 404


def test_if_match_takes_a_list_of_etags_or_a_star_but_never_a_weak_etag(
    api: Api, tenant: Tenant
) -> None:
    key = tenant.keys["developer"]
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    assert api.patch(path, key, {"purpose": "a"}, 'W/"1"').status == 412
    assert api.patch(path, key, {"purpose": "a"}, '"7", "1"').status == 200
    assert api.patch(path, key, {"purpose": "b"}, "*").status == 200
    assert api.get(path, key).json["revision"] == 3


@pytest.mark.parametrize("sent", ["1", "W/1", '"1', '"1" "2"', '*, "1"'])
def test_an_unquoted_or_malformed_if_match_is_a_400_saying_etags_are_quoted(
    api: Api, tenant: Tenant, sent: str
) -> None:
    # GIVEN a model at revision 1, whose ETag is "1" WHEN a client sends If-Match: 1
    key = tenant.keys["developer"]
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    answer = api.patch(path, key, {"purpose": "changed"}, sent)
    # THEN it is told to quote the ETag, rather than that "1" is not current
    assert answer.status == 400 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json["detail"] == 'If-Match must hold quoted ETags, like "3" (or *)'
    assert [e["field"] for e in answer.json["errors"]] == ["header.if-match"]
    assert api.get(path, key).json == model


def test_a_well_formed_stale_if_match_is_still_412(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["developer"]
    path = f"/v1/models/{new_model(api, tenant)['id']}"
    stale = api.patch(path, key, {"purpose": "changed"}, ' "0" , ,"a,b" ')
    assert stale.status == 412 and stale.json["detail"] == "If-Match does not name the current ETag"


def test_the_documents_if_match_pattern_admits_what_the_api_parses(api: Api) -> None:
    import re

    document = api.get("/v1/openapi.json").json
    (param,) = [
        p
        for p in document["paths"]["/v1/models/{model_id}"]["patch"]["parameters"]
        if p["name"] == "If-Match"
    ]
    pattern = param["schema"]["pattern"]
    for good in ['"1"', "*", 'W/"1"', '"1", "2"', '"a,b"']:
        assert re.search(pattern, good), good
    for bad in ["1", '"1" "2"', '*, "1"']:
        assert not re.search(pattern, bad), bad
