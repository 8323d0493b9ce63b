"""A seeded tenant for the report and export tests: models made over the API, versions
approved by writing what the workflow's outcome writes (the approval on the version, the
request's decided stages, the model's counts and status), production deployments made
over the API (production takes only approved versions)."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.domain.ids import new_id
from chalicelib.store import dynamo
from chalicelib.store.findings import counts
from chalicelib.store.keys import TenantKeys
from chalicelib.store.scope import for_tenant
from chalicelib.store.unit import UnitOfWork
from chalicelib.store.writer import iso, now
from tests.conftest import Api, Tenant, confirm_tier, new_model


def version(api: Api, tenant: Tenant, model_id: str) -> int:
    """A new draft version of the model; its number."""
    answer = api.post(f"/v1/models/{model_id}/versions", tenant.keys["developer"], {})
    assert answer.status == 201, answer.json
    return int(answer.json["number"])


def approve(
    tenant: Tenant, model_id: str, number: int, validators: list[str], approvers: list[str]
) -> str:
    """Record version `number` approved, as the workflow's outcome does: its request with a
    validator stage and an approver stage decided by those principals; the request id."""
    keys = TenantKeys(tenant.id)
    at = iso(now())
    request_id = new_id("approval_request")

    def stage(role: str, deciders: list[str]) -> dict[str, Any]:
        decisions = [{"principal_id": p, "outcome": "approve", "decided_at": at} for p in deciders]
        return {"role": role, "status": "closed", "outcome": "approve", "decisions": decisions}

    request = {"id": request_id, "model_id": model_id, "version_number": number}
    request["stages"] = [stage("validator", validators), stage("approver", approvers)]
    assert dynamo.put_if({**keys.approval(request_id), **request}, "attribute_not_exists(pk)")
    approval = {
        "request_id": request_id,
        "policy_version": 1,
        "approved_at": at,
        "artifacts": [],
        "conditions": [],
    }
    assert dynamo.update_if(
        keys.version(model_id, number),
        "SET #status = :approved, #approval = :approval, #due = :due",
        {"#status": "status", "#approval": "approval", "#due": "revalidation_due_at"},
        {":approved": "approved", ":approval": approval, ":due": "2027-12-01T00:00:00.000Z"},
    )
    model = dynamo.get(keys.model(model_id))
    assert model is not None
    status = "in_production" if model.get("production_deployments") else "approved"
    assert dynamo.update_if(
        keys.model(model_id),
        "SET #n = :n, #status = :status, #g = :g, #rev = #rev + :one",
        {"#n": "approved_versions", "#status": "status", "#g": "gsi1pk", "#rev": "revision"},
        {
            ":n": int(model.get("approved_versions") or 0) + 1,
            ":status": status,
            ":g": keys.models_by_status(status),
            ":one": 1,
        },
    )
    return request_id


def deploy(api: Api, tenant: Tenant, model_id: str, number: int, target: str) -> dict[str, Any]:
    """A production deployment of the version, made over the API."""
    answer = api.post(
        f"/v1/models/{model_id}/versions/{number}/deployments",
        tenant.keys["developer"],
        {"environment": "production", "target": target},
    )
    assert answer.status == 201, answer.json
    time.sleep(0.005)  # distinct milliseconds: the history's times are stored to the ms
    return dict(answer.json)


def end(api: Api, tenant: Tenant, deployment: dict[str, Any]) -> dict[str, Any]:
    """End a deployment over the API; the deployment as it is then."""
    path = (
        f"/v1/models/{deployment['model_id']}/versions/{deployment['version_number']}"
        f"/deployments/{deployment['id']}"
    )
    assert api.call("DELETE", path, tenant.keys["developer"]).status == 204
    time.sleep(0.005)
    return dict(api.get(path, tenant.keys["auditor"]).json)


def finding(
    tenant: Tenant, model_id: str, severity: str, rule: str | None = None, status: str = "open"
) -> str:
    """A finding on the model, committed as the findings service commits one (its record,
    the model's counts moved, an audit entry); its id."""
    store = for_tenant(tenant.id)
    at = iso(now())
    item: dict[str, Any] = {
        "id": new_id("finding"),
        "kind": "rule" if rule else "manual",
        "rule": rule,
        "severity": severity,
        "status": status,
        "title": f"Seeded {severity}",
        "detail": "seeded by the report tests",
        "model_id": model_id,
        "facts": {},
        "due_at": at,
        "opened_at": at,
        "reopened_count": 0,
        "created_at": at,
        "updated_at": at,
        "revision": 1,
    }
    if status == "accepted":
        item["acceptance"] = {
            "reason": "compensating controls",
            "expires_at": "2027-12-01T00:00:00.000Z",
            "accepted_by": tenant.ids["approver"],
            "accepted_at": at,
        }
    if status == "resolved":
        item |= {"resolved_at": at, "resolved_by": tenant.ids["validator"], "resolution_note": "x"}
    unit = UnitOfWork().add("finding", store.findings.put_new(item))
    moved = store.findings.count_op(model_id, counts(item))
    if moved is not None:
        unit.add("summary", moved)
    unit.record("finding.opened", "finding", item["id"], after=item)
    store.commit(Actor.of_system(SystemPart.SCAN, new_id("request"), tenant.id), unit)
    return str(item["id"])


def seeded(api: Api, tenant: Tenant) -> dict[str, Any]:
    """Three models: `pd` approved (v1) and in production, its tier 2 unconfirmed (so 1 in
    force), with an open high rule finding, an open low manual one and an accepted medium
    one; `lgd` with a draft only, tier 3 confirmed, a resolved critical finding; `ead`
    approved (v2, v1 a draft), not deployed, tier 2 confirmed."""
    validators = [tenant.ids["validator"], tenant.ids["validator2"]]
    pd = new_model(api, tenant, name="PD", intended_use="Retail credit", business_unit="Retail")
    lgd = new_model(api, tenant, name="LGD", risk_tier=3)
    ead = new_model(api, tenant, name="EAD", risk_tier=2)
    confirm_tier(api, tenant, lgd)
    confirm_tier(api, tenant, ead)
    version(api, tenant, pd["id"])
    version(api, tenant, lgd["id"])
    version(api, tenant, ead["id"])
    version(api, tenant, ead["id"])
    approve(tenant, pd["id"], 1, validators, [tenant.ids["approver"]])
    approve(tenant, ead["id"], 2, validators[:1], [tenant.ids["approver"]])
    deployment = deploy(api, tenant, pd["id"], 1, "sagemaker:pd-prod")
    # after the deployment: an open high finding would have blocked it
    finding(tenant, pd["id"], "high", rule="revalidation.overdue")
    finding(tenant, pd["id"], "low")
    finding(tenant, pd["id"], "medium", status="accepted")
    finding(tenant, lgd["id"], "critical", rule="deployment.unapproved", status="resolved")
    return {"pd": pd, "lgd": lgd, "ead": ead, "deployment": deployment}
