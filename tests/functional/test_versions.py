"""Versions are numbered without gaps and change only while draft."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import Api, Tenant, new_model

CARD = {
    "model_details": "GBM, 200 trees",
    "intended_use": "Retail credit decisions",
    "metrics": "AUC 0.81 on the 2025 holdout",
}


def test_versions_are_numbered_1_2_3_with_lineage_and_a_model_card(
    api: Api, tenant: Tenant
) -> None:
    model = new_model(api, tenant)
    key = tenant.keys["developer"]
    for n in (1, 2, 3):
        answer = api.post(
            f"/v1/models/{model['id']}/versions",
            key,
            {
                "lineage": {
                    "code_repository": "git@example:credit.git",
                    "commit": "a1b2c3d4",
                    "training_data_ref": "s3://data/2025",
                    "source_run": "mlflow:run/9",
                },
                "model_card": CARD,
            },
        )
        assert answer.status == 201 and answer.json["number"] == n
        assert answer.headers["location"] == f"/v1/models/{model['id']}/versions/{n}"
    listed = api.get(f"/v1/models/{model['id']}/versions", tenant.keys["auditor"]).json["items"]
    assert [v["number"] for v in listed] == [1, 2, 3]
    one = api.get(f"/v1/models/{model['id']}/versions/2", tenant.keys["monitor"]).json
    assert one["status"] == "draft" and one["model_card"]["metrics"] == CARD["metrics"]
    assert api.get(f"/v1/models/{model['id']}", key).json["version_count"] == 3


@pytest.mark.usefixtures("atomic_aws")
def test_concurrent_version_creation_leaves_no_gaps(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    answers: list[int] = []

    def create() -> None:
        answer = api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
        answers.append(answer.status)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert answers == [201] * 8
    listed = api.get(f"/v1/models/{model['id']}/versions", tenant.keys["developer"]).json
    assert [v["number"] for v in listed["items"]] == list(range(1, 9))


def test_only_drafts_can_be_patched(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    key = tenant.keys["developer"]
    base = f"/v1/models/{model['id']}/versions"
    api.post(base, key, {"model_card": CARD})
    patched = api.patch(f"{base}/1", key, {"model_card": {"factors": "age, region"}}, '"1"')
    assert patched.status == 200
    assert patched.json["model_card"] == {**CARD, "factors": "age, region"}
    # GIVEN the version left draft (submission is a later capability; set it in the table)
    from chalicelib.store import dynamo, keys

    dynamo.client("dynamodb").update_item(
        TableName=dynamo.table_name(),
        Key=dynamo.serialize(keys.TenantKeys(tenant.id).version(model["id"], 1)),
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "submitted"}},
    )
    refused = api.patch(f"{base}/1", key, {"description": "late"}, '"2"')
    assert refused.status == 409
    assert api.get(f"{base}/1", key).json["description"] is None


def test_lineage_is_an_immutable_fact_of_the_version(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    key = tenant.keys["developer"]
    api.post(f"/v1/models/{model['id']}/versions", key, {"lineage": {"commit": "abcdef1"}})
    answer = api.patch(
        f"/v1/models/{model['id']}/versions/1", key, {"lineage": {"commit": "1234567"}}, '"1"'
    )
    assert answer.status == 400 and answer.json["errors"][0]["field"] == "body.lineage"


def test_only_the_models_team_adds_versions(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    answer = api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer2"], {})
    assert answer.status == 403


def test_missing_versions_and_models_are_404(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    key = tenant.keys["developer"]
    assert api.get(f"/v1/models/{model['id']}/versions/1", key).status == 404
    assert api.get(f"/v1/models/{model['id']}/versions/abc", key).status == 404
    assert api.get("/v1/models/mdl_01ARZ3NDEKTSV4RRFFQ69G5FAV/versions", key).status == 404
    assert api.get(f"/v1/models/{model['id']}/versions", key).json["items"] == []
    api.post(f"/v1/models/{model['id']}/versions", key, {})
    assert api.get(f"/v1/models/{model['id']}/versions/1", key).status == 200
    assert api.get(f"/v1/models/{model['id']}/versions/01", key).status == 404
