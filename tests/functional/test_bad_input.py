"""Bad input gets a problem+json 4xx naming the field, never a 500, and stores nothing."""

from __future__ import annotations

import pytest

from tests.conftest import Api, Tenant, new_model


def assert_problem(answer, status: int, field: str | None = None) -> None:
    assert answer.status == status, answer.json
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    if field:
        assert field in [e["field"] for e in body["errors"]], body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "purpose": "y", "risk_tier": 1, "colour": "red"}, "body.colour"),
        ({"name": "x", "purpose": "y", "risk_tier": "1"}, "body.risk_tier"),
        ({"name": "x", "purpose": "y", "risk_tier": 4}, "body.risk_tier"),
        ({"name": "", "purpose": "y", "risk_tier": 1}, "body.name"),
        ({"purpose": "y", "risk_tier": 1}, "body.name"),
        ({"name": "x", "purpose": "y", "risk_tier": 1, "tags": "a"}, "body.tags"),
        ({"name": "x", "purpose": "y", "risk_tier": 1, "owner_id": "bob"}, "body.owner_id"),
        (
            {"name": "x", "purpose": "y", "risk_tier": 1, "regulatory_scope": ["EU AI"]},
            "body.regulatory_scope.0",
        ),
    ],
)
def test_schema_violations_are_400_naming_the_field(
    api: Api, tenant: Tenant, body: dict, field: str
) -> None:
    assert_problem(api.post("/v1/models", tenant.keys["developer"], body), 400, field)
    assert api.get("/v1/models", tenant.keys["developer"]).json["items"] == []


def test_non_json_and_wrong_content_type_and_oversize_bodies(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["developer"]
    not_json = api.call(
        "POST", "/v1/models", key, raw="{nope", headers={"Content-Type": "application/json"}
    )
    assert_problem(not_json, 400, "body")
    as_text = api.call(
        "POST", "/v1/models", key, raw="name=x", headers={"Content-Type": "text/plain"}
    )
    assert_problem(as_text, 415, "header.content-type")
    big = '{"name": "x", "purpose": "' + "a" * 300_000 + '", "risk_tier": 1}'
    assert_problem(
        api.call("POST", "/v1/models", key, raw=big, headers={"Content-Type": "application/json"}),
        413,
        "body",
    )
    array = api.call(
        "POST", "/v1/models", key, raw="[1, 2]", headers={"Content-Type": "application/json"}
    )
    assert_problem(array, 400)
    assert api.get("/v1/models", key).json["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("limit=ten", "query.limit"),
        ("risk_tier=x", "query.risk_tier"),
        ("status=alive", "query.status"),
        ("colour=red", "query.colour"),
        ("cursor=abc.def", "query.cursor"),
        ("cursor=", "query.cursor"),
    ],
)
def test_bad_query_parameters_are_400(api: Api, tenant: Tenant, query: str, field: str) -> None:
    assert_problem(api.get(f"/v1/models?{query}", tenant.keys["developer"]), 400, field)


def test_an_empty_cursor_is_a_400_saying_it_must_not_be_empty(api: Api, tenant: Tenant) -> None:
    answer = api.get("/v1/models?cursor=", tenant.keys["developer"])
    assert_problem(answer, 400, "query.cursor")
    assert answer.json["errors"] == [{"field": "query.cursor", "message": "must not be empty"}]


def test_auth_failures_are_problem_json(api: Api, tenant: Tenant) -> None:
    assert_problem(api.get("/v1/models"), 401)
    assert_problem(api.get("/v1/models", "cus_key_01ARZ3NDEKTSV4RRFFQ69G5FAV_" + "x" * 43), 401)
    tampered = tenant.keys["developer"][:-2] + (
        "AA" if not tenant.keys["developer"].endswith("AA") else "BB"
    )
    assert_problem(api.get("/v1/models", tampered), 401)
    assert_problem(api.get("/v1/models", headers={"Authorization": "Basic abc"}), 401)
    assert_problem(
        api.post("/v1/principals", tenant.keys["developer"], {"name": "x", "roles": ["admin"]}), 403
    )


def test_unsupported_methods_are_problem_json(api: Api, tenant: Tenant) -> None:
    answer = api.call("PUT", "/v1/models", tenant.keys["developer"], body={})
    assert_problem(answer, 405)
    assert "GET" in answer.headers["allow"]


def test_a_failed_update_changes_nothing(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    assert_problem(
        api.patch(path, tenant.keys["developer"], {"risk_tier": "high"}, '"1"'),
        400,
        "body.risk_tier",
    )
    assert_problem(
        api.patch(path, tenant.keys["developer"], {"name": None}, '"1"'), 400, "body.name"
    )
    assert_problem(
        api.patch(
            path,
            tenant.keys["developer"],
            {"developer_ids": ["prn_01ARZ3NDEKTSV4RRFFQ69G5FAV"]},
            '"1"',
        ),
        422,
        "body.developer_ids[0]",
    )
    assert api.get(path, tenant.keys["developer"]).json == model


def test_key_expiry_without_a_time_zone_is_400(api: Api, tenant: Tenant) -> None:
    answer = api.post(
        "/v1/api-keys",
        tenant.keys["admin"],
        {"principal_id": tenant.ids["auditor"], "name": "k", "expires_at": "2031-01-01T00:00:00"},
    )
    assert_problem(answer, 400, "body.expires_at")


def test_malformed_and_huge_ids_are_404(api: Api, tenant: Tenant) -> None:
    from tests.conftest import PLATFORM_KEY

    assert_problem(api.get("/v1/tenants/" + "x" * 3000, PLATFORM_KEY), 404)
    assert_problem(api.get("/v1/models/mdl_" + "Z" * 500, tenant.keys["developer"]), 404)
