"""Production deployments of versions approved by the workflow (moto executing it): what
production requires, the model's derived status through approval, deployment, its end and
retirement, and the inventory of models in production."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.config import settings
from tests.conftest import Api, Tenant
from tests.functional.route_fixtures import items_of
from tests.workflow.flow import decide, settled, stage_open, submitted

PRODUCTION = {"environment": "production", "target": "sagemaker:endpoint/retail-pd"}
DECIDERS = {"validator": ("validator", "validator2"), "approver": ("approver", "approver2")}


def approved(api: Api, tenant: Tenant, pump: Callable[[], int], **last: Any) -> dict[str, Any]:
    """A new tier-3 model whose version 1 (with model.bin) the workflow approved, every
    stage the policy gives it decided by as many of its role as its quorum needs (the last
    stage's decisions with `last`: conditions, expiry)."""
    request = submitted(api, tenant, risk_tier=3, artifact=b"weights")
    stages = request["stages"]
    for index, stage in enumerate(stages):
        stage_open(api, tenant, request["id"], index, pump)
        # a callable value is made at the decision (an expiry a moment ahead of it)
        extra = {k: v() if callable(v) else v for k, v in last.items()}
        extra = extra if index == len(stages) - 1 else {}
        for who in DECIDERS[stage["role"]][: stage["quorum"]]:
            assert decide(api, tenant, request["id"], who, **extra).status == 201
    settled(api, tenant, request["id"], "approved", pump)
    return request


def model_path(request: dict[str, Any]) -> str:
    return f"/v1/models/{request['model_id']}"


def in_production(api: Api, tenant: Tenant, status: str = "in_production") -> list[str]:
    return [m["id"] for m in items_of(api, f"/v1/models?status={status}", tenant.keys["auditor"])]


def test_a_model_moves_through_approved_in_production_approved_and_retired(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    # GIVEN a version the workflow approved: its model is approved, in the same change
    request = approved(api, tenant, pump)
    model, version = model_path(request), f"{model_path(request)}/versions/1"
    read = api.get(model, tenant.keys["auditor"]).json
    assert (read["status"], read["approved_versions"]) == ("approved", 1)
    trail = items_of(api, "/v1/audit-events", tenant.keys["auditor"])
    [outcome] = [e for e in trail if e["action"] == "approval.approved"]
    assert (outcome["before"]["model_status"], outcome["after"]["model_status"]) == (
        "in_development",
        "approved",
    )
    # WHEN the pipeline's monitor records it running in production
    answer = api.post(f"{version}/deployments", tenant.keys["monitor"], PRODUCTION)
    # THEN it is recorded under the approval, and the model is in production: the inventory
    # of production models lists it, and no longer lists it as only approved
    assert answer.status == 201, answer.json
    deployment = answer.json
    assert deployment["approval_request_id"] == request["id"]
    read = api.get(model, tenant.keys["auditor"]).json
    assert (read["status"], read["production_deployments"]) == ("in_production", 1)
    assert in_production(api, tenant) == [request["model_id"]]
    assert in_production(api, tenant, "approved") == []
    # AND the version cannot be retired while it runs there: 409 naming the deployment
    refused = api.post(f"{version}/retire", tenant.keys["developer"])
    assert refused.status == 409, refused.json
    assert deployment["id"] in refused.json["detail"]
    assert [e["field"] for e in refused.json["errors"]] == [f"deployments.{deployment['id']}"]
    assert api.get(version, tenant.keys["auditor"]).json["status"] == "approved"
    # WHEN the deployment ends, THEN the model is approved again
    ended = api.call("DELETE", answer.headers["location"], tenant.keys["monitor"])
    assert ended.status == 204, ended.json
    assert api.get(model, tenant.keys["auditor"]).json["status"] == "approved"
    assert in_production(api, tenant) == []
    # WHEN the team retires its only version, THEN the model is retired
    retired = api.post(f"{version}/retire", tenant.keys["developer"])
    assert retired.status == 200, retired.json
    read = api.get(model, tenant.keys["auditor"]).json
    assert (read["status"], read["approved_versions"], read["retired_versions"]) == (
        "retired",
        0,
        1,
    )
    # AND the history still answers what ran in production while it did
    at = deployment["since"].replace("+", "%2B")
    history = api.get(f"{version}/deployments?at={at}", tenant.keys["auditor"]).json
    assert [d["id"] for d in history["items"]] == [deployment["id"]]
    actions = [e["action"] for e in items_of(api, "/v1/audit-events", tenant.keys["auditor"])]
    for action in ("version.deployed", "version.undeployed", "version.retired"):
        assert actions.count(action) == 1, (action, actions)
    assert api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json["valid"]


def test_production_refuses_artifacts_changed_in_s3_after_approval_naming_each(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    request = approved(api, tenant, pump)
    version = f"{model_path(request)}/versions/1"
    s3 = boto3.client("s3")
    key = f"tenants/{tenant.id}/models/{request['model_id']}/versions/000001/artifacts/model.bin"
    # WHEN someone with access to the bucket overwrites the approved object
    s3.put_object(Bucket=settings().bucket, Key=key, Body=b"other weights")
    answer = api.post(f"{version}/deployments", tenant.keys["developer"], PRODUCTION)
    # THEN production is a 422 naming the artifact and both object versions
    assert answer.status == 422, answer.json
    [error] = answer.json["errors"]
    approved_version = request["artifacts"][0]["s3_version_id"]
    assert error["field"] == "artifacts.model.bin" and approved_version in error["message"]
    # WHEN it is deleted instead, THEN the 422 says so
    s3.delete_object(Bucket=settings().bucket, Key=key)
    answer = api.post(f"{version}/deployments", tenant.keys["developer"], PRODUCTION)
    assert answer.status == 422, answer.json
    assert "deleted" in answer.json["errors"][0]["message"]
    # AND nothing was recorded for production, while staging still takes the version
    listed = api.get(f"{version}/deployments", tenant.keys["auditor"]).json
    assert listed["items"] == []
    staging = {"environment": "staging", "target": "k8s://staging/pd"}
    assert api.post(f"{version}/deployments", tenant.keys["developer"], staging).status == 201
    assert api.get(model_path(request), tenant.keys["auditor"]).json["status"] == "approved"


def test_production_refuses_a_version_whose_approval_lapsed(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant

    # GIVEN a version approved until two seconds after the decision
    def two_seconds_ahead() -> str:
        return (datetime.now(UTC) + timedelta(seconds=2)).isoformat()

    request = approved(api, tenant, pump, approval_expires_at=two_seconds_ahead)
    version = f"{model_path(request)}/versions/1"
    expiry = api.get(version, tenant.keys["auditor"]).json["approval"]["expires_at"]
    lapse = datetime.fromisoformat(expiry.replace("Z", "+00:00")) - datetime.now(UTC)
    time.sleep(max(0.0, lapse.total_seconds()) + 0.1)
    # WHEN it is deployed to production after that, THEN 409 says the approval lapsed
    answer = api.post(f"{version}/deployments", tenant.keys["developer"], PRODUCTION)
    assert answer.status == 409, answer.json
    assert "lapsed" in answer.json["detail"]
    assert api.get(f"{version}/deployments", tenant.keys["auditor"]).json["items"] == []


@pytest.mark.usefixtures("atomic_aws")
def test_concurrent_production_deployments_and_a_retirement_leave_the_counts_true(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    request = approved(api, tenant, pump)
    version = f"{model_path(request)}/versions/1"
    barrier = threading.Barrier(9)
    answers: list[tuple[str, int]] = []

    def deploy(n: int) -> None:
        barrier.wait(timeout=30)
        body = {**PRODUCTION, "target": f"endpoint-{n}"}
        answer = api.post(f"{version}/deployments", tenant.keys["monitor"], body)
        answers.append(("deploy", answer.status))

    def retire() -> None:
        barrier.wait(timeout=30)
        answers.append(("retire", api.post(f"{version}/retire", tenant.keys["admin"]).status))

    # WHEN eight production deployments and a retirement of the version race
    threads = [threading.Thread(target=deploy, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=retire))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # THEN either the retirement won and every deployment after it was refused, or it lost;
    # and the model's counts are exactly what is stored
    assert len(answers) == 9, answers
    retired = ("retire", 200) in answers
    deployed = [s for kind, s in answers if kind == "deploy"]
    assert all(s in (201, 409) for s in deployed), answers
    stored = items_of(api, f"{version}/deployments?open=true", tenant.keys["auditor"])
    assert len(stored) == deployed.count(201)
    read = api.get(model_path(request), tenant.keys["auditor"]).json
    assert read["production_deployments"] == len(stored)
    if retired:
        assert not stored and read["status"] == "retired", answers
    else:
        assert stored and read["status"] == "in_production", answers
    assert api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json["valid"]


def test_a_version_under_revalidation_deploys_and_is_not_retired_until_it_is_settled(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    request = approved(api, tenant, pump)
    model, version = model_path(request), f"{model_path(request)}/versions/1"
    # GIVEN the approved version submitted for revalidation
    path = f"{version}/approval-requests"
    revalidation = api.post(path, tenant.keys["developer"], {"kind": "revalidation"})
    assert revalidation.status == 201, revalidation.json
    # THEN it still goes to production, and cannot be retired meanwhile
    deployed = api.post(f"{version}/deployments", tenant.keys["monitor"], PRODUCTION)
    assert deployed.status == 201, deployed.json
    assert api.call("DELETE", deployed.headers["location"], tenant.keys["monitor"]).status == 204
    refused = api.post(f"{version}/retire", tenant.keys["developer"])
    assert refused.status == 409, refused.json
    assert "revalidation" in refused.json["detail"]
    # WHEN it runs in production again and its revalidation is rejected
    again = {**PRODUCTION, "target": "sagemaker:endpoint/retail-pd-2"}
    assert api.post(f"{version}/deployments", tenant.keys["monitor"], again).status == 201
    stage_open(api, tenant, revalidation.json["id"], 0, pump)
    rejected = decide(api, tenant, revalidation.json["id"], "validator", "reject")
    assert rejected.status == 201, rejected.json
    settled(api, tenant, revalidation.json["id"], "rejected", pump)
    # THEN the version is rejected and no longer counts as approved, but the model stays in
    # production while the deployment is open (ending it is its team's call)
    read = api.get(model, tenant.keys["auditor"]).json
    assert api.get(version, tenant.keys["auditor"]).json["status"] == "rejected"
    assert (read["status"], read["approved_versions"]) == ("in_production", 0)
    # AND a rejected version takes no new production deployment
    third = {**PRODUCTION, "target": "sagemaker:endpoint/retail-pd-3"}
    assert api.post(f"{version}/deployments", tenant.keys["monitor"], third).status == 409
