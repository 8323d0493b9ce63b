"""Creating POSTs accept Idempotency-Key: a replay answers the first answer."""

from __future__ import annotations

import json
import threading

import pytest

from tests.conftest import PLATFORM_KEY, Api, Tenant

BODY = {"name": "Churn", "purpose": "Predict churn", "risk_tier": 3}


def test_a_replay_returns_the_first_answer_and_creates_nothing_more(
    api: Api, tenant: Tenant
) -> None:
    key = tenant.keys["developer"]
    first = api.post("/v1/models", key, BODY, headers={"Idempotency-Key": "abc-1"})
    again = api.post("/v1/models", key, BODY, headers={"Idempotency-Key": "abc-1"})
    assert first.status == again.status == 201
    assert again.json == first.json
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(api.get("/v1/models", key).json["items"]) == 1


def test_the_same_key_with_another_body_is_409(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["developer"]
    api.post("/v1/models", key, BODY, headers={"Idempotency-Key": "abc-2"})
    other = api.post(
        "/v1/models", key, {**BODY, "name": "Other"}, headers={"Idempotency-Key": "abc-2"}
    )
    assert other.status == 409 and other.json["type"].endswith("idempotency-key-reused")
    assert [m["name"] for m in api.get("/v1/models", key).json["items"]] == ["Churn"]


def test_keys_are_per_principal(api: Api, tenant: Tenant) -> None:
    api.post("/v1/models", tenant.keys["developer"], BODY, headers={"Idempotency-Key": "k"})
    api.post("/v1/models", tenant.keys["developer2"], BODY, headers={"Idempotency-Key": "k"})
    assert len(api.get("/v1/models", tenant.keys["developer"]).json["items"]) == 2


@pytest.mark.usefixtures("atomic_aws")
def test_concurrent_requests_with_one_key_create_one_model(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["developer"]
    answers: list[dict] = []

    def send() -> None:
        answer = api.post("/v1/models", key, BODY, headers={"Idempotency-Key": "race"})
        answers.append({"status": answer.status, "id": (answer.json or {}).get("id")})

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert {a["status"] for a in answers} == {201}
    assert len({a["id"] for a in answers}) == 1
    assert len(api.get("/v1/models", key).json["items"]) == 1


def test_a_replayed_tenant_creation_never_shows_the_secret_again(api: Api) -> None:
    body = {"name": "Hooli", "admin_name": "Gavin", "admin_email": "g@hooli.example"}
    first = api.post("/v1/tenants", PLATFORM_KEY, body, headers={"Idempotency-Key": "t-1"})
    again = api.post("/v1/tenants", PLATFORM_KEY, body, headers={"Idempotency-Key": "t-1"})
    assert first.json["api_key"]["secret"] and again.json["api_key"]["secret"] is None
    assert again.json["tenant"] == first.json["tenant"]
    assert len(api.get("/v1/tenants", PLATFORM_KEY).json["items"]) == 1


def test_an_expired_key_not_yet_swept_by_ttl_starts_afresh(api: Api, tenant: Tenant) -> None:
    # GIVEN a record past its 24 hours that DynamoDB's TTL sweep has not deleted yet
    key = tenant.keys["developer"]
    first = api.post("/v1/models", key, BODY, headers={"Idempotency-Key": "old"})
    from chalicelib.store import dynamo, keys

    record = keys.TenantKeys(tenant.id).idempotency(tenant.ids["developer"], "old")
    dynamo.client("dynamodb").update_item(
        TableName=dynamo.table_name(),
        Key=dynamo.serialize(record),
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1000"}},
    )
    # WHEN the key comes back with another body THEN it is a new request
    again = api.post("/v1/models", key, {**BODY, "name": "New"}, headers={"Idempotency-Key": "old"})
    assert again.status == 201 and again.json["id"] != first.json["id"]


def test_a_key_reused_on_another_models_path_is_409_not_a_replay(api: Api, tenant: Tenant) -> None:
    from tests.conftest import new_model

    first, second = new_model(api, tenant), new_model(api, tenant, name="Second")
    key = tenant.keys["developer"]
    made = api.post(f"/v1/models/{first['id']}/versions", key, {}, headers={"Idempotency-Key": "v"})
    assert made.status == 201
    other = api.post(
        f"/v1/models/{second['id']}/versions", key, {}, headers={"Idempotency-Key": "v"}
    )
    assert other.status == 409
    assert api.get(f"/v1/models/{second['id']}/versions", key).json["items"] == []


@pytest.mark.parametrize("blank", ["", " ", "\t", " \t "])
def test_an_empty_or_blank_idempotency_key_is_400_and_creates_nothing(
    api: Api, tenant: Tenant, blank: str
) -> None:
    # GIVEN a client whose key variable came out empty WHEN it sends (and retries) THEN
    # each attempt is refused, rather than each creating a model
    key = tenant.keys["developer"]
    for _ in range(2):
        answer = api.post("/v1/models", key, BODY, headers={"Idempotency-Key": blank})
        assert answer.status == 400
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json["errors"]] == ["header.idempotency-key"]
        assert "whitespace" in answer.json["detail"]
    assert api.get("/v1/models", key).json["items"] == []


def test_the_document_says_a_blank_idempotency_key_is_refused(api: Api) -> None:
    import re

    document = api.get("/v1/openapi.json").json
    (header,) = [
        p
        for p in document["paths"]["/v1/models"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    ]
    schema = header["schema"]
    assert schema["minLength"] == 1
    assert not re.search(schema["pattern"], " \t") and re.search(schema["pattern"], " k ")


def test_a_replay_answers_the_first_answers_bytes_under_its_own_request_id(
    api: Api, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tenant.keys["developer"]
    body = {**BODY, "purpose": "Prédire l'attrition ✓", "tags": ["b", "a"]}
    first = api.post("/v1/models", key, body, headers={"Idempotency-Key": "bytes-1"})
    capsys.readouterr()
    again = api.post("/v1/models", key, body, headers={"Idempotency-Key": "bytes-1"})
    assert again.raw == first.raw
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert (
        again.headers["x-request-id"]
        and again.headers["x-request-id"] != first.headers["x-request-id"]
    )
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert (line["request_id"], line["status"]) == (again.headers["x-request-id"], 201)
