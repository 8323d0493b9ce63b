"""A version through its approval workflow with moto executing the state machine: the
stages of its tier in order, each to its quorum, the outcome applied to the version."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys
from tests.conftest import Api, Tenant
from tests.workflow.conftest import until
from tests.workflow.flow import (
    actions,
    decide,
    execution,
    read,
    settled,
    stage_open,
    submitted,
)


def test_a_tier_2_version_is_approved_once_validation_and_approval_reach_their_quorum(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    api, tenant = wf_api, wf_tenant
    # GIVEN a tier-2 version submitted: the request pins the policy and lists its stages
    request = submitted(api, tenant, risk_tier=2, artifact=b"weights")
    assert request["status"] == "pending" and request["policy_version"] == 1
    assert [(s["name"], s["role"], s["quorum"]) for s in request["stages"]] == [
        ("validation", "validator", 1),
        ("approval", "approver", 1),
    ]
    version_path = f"/v1/models/{request['model_id']}/versions/1"
    assert api.get(version_path, tenant.keys["auditor"]).json["status"] == "submitted"
    # WHEN the workflow opens validation, THEN one execution named by the request runs
    opened = stage_open(api, tenant, request["id"], 0, pump)
    assert opened["status"] == "in_review" and opened["stages"][0]["deadline"]
    assert execution(request["id"], executing_aws)["status"] == "RUNNING"
    # WHEN the validator approves, THEN the approval stage opens next (an approver who
    # comes before it has opened is told to wait)
    assert decide(api, tenant, request["id"], "validator").status == 201
    early = decide(api, tenant, request["id"], "approver")
    assert early.status == 409 and "next stage is opening" in early.json["detail"], early.json
    stage_open(api, tenant, request["id"], 1, pump)
    # WHEN the approver approves, THEN the workflow approves the request and the version
    assert decide(api, tenant, request["id"], "approver").status == 201
    done = settled(api, tenant, request["id"], "approved", pump)
    assert [s["outcome"] for s in done["stages"]] == ["approve", "approve"]
    version = api.get(version_path, tenant.keys["auditor"]).json
    assert version["status"] == "approved"
    # AND the version records what approved it: the request, the pinned policy, and the
    # artifact's digest and S3 object version as submission froze them
    approval = version["approval"]
    assert (approval["request_id"], approval["policy_version"]) == (request["id"], 1)
    [artifact] = api.get(f"{version_path}/artifacts", tenant.keys["auditor"]).json["items"]
    [approved] = approval["artifacts"]
    assert approved["sha256"] == artifact["sha256"] == hashlib.sha256(b"weights").hexdigest()
    frozen = request["artifacts"][0]["s3_version_id"]
    assert approved["s3_version_id"] == artifact["s3_version_id"] == frozen and frozen
    until(lambda: execution(request["id"], executing_aws)["status"] == "SUCCEEDED", pump)
    # AND every step is audited once, by whom it was taken, and the chain verifies
    trail = actions(api, tenant)
    for action, times in (
        ("approval.submitted", 1),
        ("approval.stage_opened", 2),
        ("approval.decided", 2),
        ("approval.approved", 1),
    ):
        assert trail.count(action) == times, (action, trail)
    assert api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json["valid"]
    # AND no task token ever reaches an answer or the audit trail
    token = dynamo.get(TenantKeys(tenant.id).task_token(request["id"], 1))
    assert token is not None
    assert token["task_token"] not in json.dumps(read(api, tenant, request["id"]))
    audit = api.get("/v1/audit-events?limit=100", tenant.keys["auditor"]).json
    assert token["task_token"] not in json.dumps(audit)


def test_a_tier_1_risk_approval_needs_two_approvers(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    request = submitted(api, tenant, risk_tier=1)
    stage_open(api, tenant, request["id"], 0, pump)
    assert decide(api, tenant, request["id"], "validator").status == 201
    stage_open(api, tenant, request["id"], 1, pump)
    # WHEN one approver approves, THEN the stage stays open for the second
    first = decide(api, tenant, request["id"], "approver")
    assert first.status == 201, first.json
    stage = first.json["stages"][1]
    assert stage["status"] == "open" and len(stage["decisions"]) == 1
    # AND the same approver cannot count twice
    again = decide(api, tenant, request["id"], "approver")
    assert again.status == 409, again.json
    # AND the last stage's approvals carry the conditions of use and an expiry, which
    # cannot be in the past
    path = f"/v1/approval-requests/{request['id']}/decisions"
    past = {"outcome": "approve", "approval_expires_at": "2020-01-01T00:00:00Z"}
    stale = api.post(path, tenant.keys["approver2"], past)
    assert stale.status == 422, stale.json
    assert [e["field"] for e in stale.json["errors"]] == ["body.approval_expires_at"]
    terms = {
        "outcome": "approve",
        "conditions": ["Retail book only"],
        "approval_expires_at": "2030-01-01T00:00:00Z",
    }
    assert api.post(path, tenant.keys["approver2"], terms).status == 201
    settled(api, tenant, request["id"], "approved", pump)
    version = api.get(f"/v1/models/{request['model_id']}/versions/1", tenant.keys["auditor"])
    approval = version.json["approval"]
    assert approval["conditions"] == ["Retail book only"]
    assert approval["expires_at"].startswith("2030-01-01T00:00:00")


def test_a_reject_ends_the_request_and_rejects_the_version(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    api, tenant = wf_api, wf_tenant
    request = submitted(api, tenant, risk_tier=2)
    stage_open(api, tenant, request["id"], 0, pump)
    # A reject without a comment is refused; with one it closes the stage
    bare = api.post(
        f"/v1/approval-requests/{request['id']}/decisions",
        tenant.keys["validator"],
        {"outcome": "reject"},
    )
    assert bare.status == 422 and bare.json["errors"][0]["field"] == "body.comment"
    assert decide(api, tenant, request["id"], "validator", "reject").status == 201
    done = settled(api, tenant, request["id"], "rejected", pump)
    assert done["stages"][1]["status"] == "waiting"  # never opened
    version_path = f"/v1/models/{request['model_id']}/versions/1"
    assert api.get(version_path, tenant.keys["auditor"]).json["status"] == "rejected"
    until(lambda: execution(request["id"], executing_aws)["status"] == "SUCCEEDED", pump)
    # AND a decision on the closed stage is a 409, and audited
    late = decide(api, tenant, request["id"], "validator2")
    assert late.status == 409, late.json
    assert "approval.decision_refused" in actions(api, tenant)
