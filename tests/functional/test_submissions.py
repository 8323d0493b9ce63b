"""Submitting a version for approval over the API: what it must have, what it freezes, and
that a retried submit is one request with one execution (moto not executing it)."""

from __future__ import annotations

import boto3

from tests.conftest import Api, Tenant, confirm_tier, new_model
from tests.harness.uploads import artifact_body, put

CARD = {"intended_use": "Retail credit decisions", "metrics": "AUC 0.81"}


def versions_of(api: Api, tenant: Tenant, card: dict[str, str], **model: object) -> str:
    found = new_model(api, tenant, **model)
    confirm_tier(api, tenant, found)
    path = f"/v1/models/{found['id']}/versions"
    made = api.post(path, tenant.keys["developer"], {"model_card": card})
    assert made.status == 201, made.json
    return f"{path}/1"


def test_a_version_missing_documentation_and_verification_is_refused_listing_each_item(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a tier-1 version without its metrics, one artifact registered but never
    # uploaded and one uploaded and verified
    version = versions_of(api, tenant, {"intended_use": "Retail credit"}, risk_tier=1)
    key = tenant.keys["developer"]
    assert api.post(f"{version}/artifacts", key, artifact_body(b"w", "weights.bin")).status == 201
    done = api.post(f"{version}/artifacts", key, artifact_body(b"c", "card.pdf"))
    put(done.json["upload"], b"c")
    assert api.post(f"{version}/artifacts/card.pdf/complete", key).status == 200
    # WHEN its team submits it
    answer = api.post(f"{version}/approval-requests", key, {"kind": "approval"})
    # THEN 422 names the unverified artifact and the missing field, and nothing changed
    assert answer.status == 422, answer.json
    assert {e["field"] for e in answer.json["errors"]} == {
        "artifacts.weights.bin",
        "model_card.metrics",
    }
    assert api.get(version, tenant.keys["auditor"]).json["status"] == "draft"
    assert api.get("/v1/approval-requests", tenant.keys["auditor"]).json["items"] == []


def test_a_regulatory_scope_adds_the_fields_the_policy_requires_for_it(
    api: Api, tenant: Tenant
) -> None:
    current = api.get("/v1/policy", tenant.keys["admin"])
    body = {k: current.json[k] for k in ("tiers", "escalation_contact_ids")} | {
        "required_model_card_fields_by_scope": {"eu-ai-act:high": ["ethical_considerations"]}
    }
    updated = api.call(
        "PUT",
        "/v1/policy",
        tenant.keys["admin"],
        body,
        headers={"If-Match": current.headers["etag"]},
    )
    assert updated.status == 200, updated.json
    version = versions_of(api, tenant, CARD, regulatory_scope=["eu-ai-act:high"])
    answer = api.post(f"{version}/approval-requests", tenant.keys["developer"], {})
    assert answer.status == 422, answer.json
    assert [e["field"] for e in answer.json["errors"]] == ["model_card.ethical_considerations"]


def test_a_retried_submit_is_one_request_pinning_the_policy_freezing_artifacts_one_execution(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    from app import app
    from infra.dispatch import Dispatcher

    # GIVEN a complete tier-3 draft with a verified artifact
    version = versions_of(api, tenant, CARD, risk_tier=3)
    key = tenant.keys["developer"]
    made = api.post(f"{version}/artifacts", key, artifact_body(b"weights"))
    put(made.json["upload"], b"weights")
    assert api.post(f"{version}/artifacts/model.bin/complete", key).status == 200
    # WHEN its team submits it twice with one Idempotency-Key
    retry = {"Idempotency-Key": "submit-1"}
    first = api.post(f"{version}/approval-requests", key, {"kind": "approval"}, headers=retry)
    again = api.post(f"{version}/approval-requests", key, {"kind": "approval"}, headers=retry)
    # THEN both answers are the one request: it pins policy version 1 and its tier's stage,
    # and froze the artifact's digest and S3 object version
    assert first.status == again.status == 201, (first.json, again.json)
    request = first.json
    assert again.json["id"] == request["id"] and request["id"].startswith("apr_")
    assert first.headers["location"] == f"/v1/approval-requests/{request['id']}"
    assert (request["kind"], request["policy_version"], request["risk_tier"]) == ("approval", 1, 3)
    assert [(s["name"], s["role"], s["quorum"]) for s in request["stages"]] == [
        ("approval", "approver", 1)
    ]
    [frozen] = request["artifacts"]
    assert frozen["name"] == "model.bin" and frozen["sha256"] and frozen["s3_version_id"]
    # AND the version is submitted: no third submit, no new artifact
    shown = api.get(version, tenant.keys["auditor"]).json
    assert (shown["status"], shown["approval_request_id"]) == ("submitted", request["id"])
    third = api.post(f"{version}/approval-requests", key, {"kind": "approval"})
    assert third.status == 409, third.json
    late = api.post(f"{version}/artifacts", key, artifact_body(b"late", "late.bin"))
    assert late.status == 409, late.json
    # AND once the outbox is relayed, one execution runs, named by the request
    dispatcher = Dispatcher(app, boto3.session.Session(), aws)
    dispatcher.pump_all()
    dispatcher.pump_all()
    listed = boto3.client("stepfunctions").list_executions(
        stateMachineArn=aws["CUSTOS_APPROVAL_STATE_MACHINE_ARN"]
    )["executions"]
    assert [e["name"] for e in listed] == [request["id"]]
    listed_requests = api.get("/v1/approval-requests", tenant.keys["auditor"]).json["items"]
    assert [r["id"] for r in listed_requests] == [request["id"]]


def test_only_the_models_team_submits_and_an_unknown_version_is_404(
    api: Api, tenant: Tenant
) -> None:
    version = versions_of(api, tenant, CARD)
    outsider = api.post(f"{version}/approval-requests", tenant.keys["developer2"], {})
    assert outsider.status == 403, outsider.json
    model_path = version.rsplit("/", 1)[0]
    for path in (f"{model_path}/7", f"{model_path}/x", "/v1/models/mdl_nope/versions/1"):
        missing = api.post(f"{path}/approval-requests", tenant.keys["developer"], {})
        assert missing.status == 404, (path, missing.json)
    unknown = api.post(f"{version}/approval-requests", tenant.keys["developer"], {"kind": "x"})
    assert unknown.status == 400, unknown.json
