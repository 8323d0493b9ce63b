"""Findings a validator raises, an approver accepts and a validator resolves, over the API;
open critical or high findings blocking decisions and production deployments; bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.functional.compliance_world import Compliance, compliance

__all__ = ["compliance"]  # fixtures


def raise_finding(compliance: Compliance, model_id: str, **fields: Any) -> dict[str, Any]:
    body = {"model_id": model_id, "severity": "critical", "title": "Bias not assessed", **fields}
    answer = compliance.api.post("/v1/findings", compliance.key("validator"), body)
    assert answer.status == 201, answer.json
    assert answer.headers["location"] == f"/v1/findings/{answer.json['id']}"
    return dict(answer.json)


def later(compliance: Compliance, **delta: float) -> str:
    return (compliance.clock.now + timedelta(**delta)).isoformat()


def test_an_open_critical_finding_blocks_production_until_an_approver_accepts_its_risk(
    compliance: Compliance,
) -> None:
    world = compliance.approved()
    model_id, path = world["model"]["id"], world["path"]
    # GIVEN a validator's critical finding on the approved version
    finding = raise_finding(compliance, model_id, version_number=1, detail="No fairness tests")
    assert (finding["kind"], finding["status"], finding["raised_by"]) == (
        "manual",
        "open",
        compliance.tenant.ids["validator"],
    )
    # due by the policy's default for critical findings: a week
    assert finding["due_at"][:10] == later(compliance, days=7)[:10]
    body = {"environment": "production", "target": "k8s://prod/pd"}
    dev = compliance.key("developer")
    # WHEN the team deploys the version to production
    refused = compliance.api.post(f"{path}/deployments", dev, body)
    # THEN 409 names the finding, and staging is still open to it
    assert refused.status == 409, refused.json
    assert finding["id"] in refused.json["detail"]
    assert [e["field"] for e in refused.json["errors"]] == [f"findings.{finding['id']}"]
    staging = {"environment": "staging", "target": "k8s://staging/pd"}
    assert compliance.api.post(f"{path}/deployments", dev, staging).status == 201
    # WHEN an approver outside the team accepts the risk for a month
    acceptance = {"reason": "Manual monthly review", "expires_at": later(compliance, days=30)}
    accepted = compliance.api.post(
        f"/v1/findings/{finding['id']}/accept", compliance.key("approver"), acceptance
    )
    assert accepted.status == 200, accepted.json
    assert accepted.json["status"] == "accepted"
    assert accepted.json["acceptance"]["accepted_by"] == compliance.tenant.ids["approver"]
    # THEN production takes the version
    assert compliance.api.post(f"{path}/deployments", dev, body).status == 201
    actions = compliance.audit_actions()
    assert "finding.opened" in actions and "finding.accepted" in actions


def test_an_expired_acceptance_reopens_the_finding_at_the_next_scan(compliance: Compliance) -> None:
    world = compliance.approved()
    finding = raise_finding(compliance, world["model"]["id"], severity="medium")
    acceptance = {"reason": "Until the Q3 retrain", "expires_at": later(compliance, days=1)}
    accepted = compliance.api.post(
        f"/v1/findings/{finding['id']}/accept", compliance.key("approver"), acceptance
    )
    assert accepted.status == 200, accepted.json
    # WHEN the acceptance lapses and a scan runs
    compliance.clock.advance(days=2)
    compliance.scan()
    # THEN the finding is open again, without its acceptance
    reopened = compliance.api.get(f"/v1/findings/{finding['id']}", compliance.key("auditor")).json
    assert reopened["status"] == "open" and reopened["acceptance"] is None
    assert reopened["reopened_count"] == 1


def test_an_open_high_finding_blocks_approving_a_submitted_version_but_not_rejecting_it(
    compliance: Compliance,
) -> None:
    from tests.conftest import confirm_tier, new_model

    api = compliance.api
    model = new_model(api, compliance.tenant, risk_tier=3)
    confirm_tier(api, compliance.tenant, model)
    versions = f"/v1/models/{model['id']}/versions"
    dev = compliance.key("developer")
    card = {"intended_use": "Retail credit", "metrics": "AUC 0.8"}
    assert api.post(versions, dev, {"model_card": card}).status == 201
    request = api.post(f"{versions}/1/approval-requests", dev, {"kind": "approval"}).json
    compliance.workflow(request["id"], kind="stage.opened", stage=0, task_token="t-block")
    finding = raise_finding(compliance, model["id"], severity="high")  # on the whole model
    decisions = f"/v1/approval-requests/{request['id']}/decisions"
    # WHEN the approver approves
    refused = api.post(decisions, compliance.key("approver"), {"outcome": "approve"})
    # THEN 409 names the finding, and nothing was decided
    assert refused.status == 409, refused.json
    assert finding["id"] in refused.json["detail"]
    stage = api.get(f"/v1/approval-requests/{request['id']}", dev).json["stages"][0]
    assert stage["decisions"] == []
    # WHEN a validator outside the team resolves it with a note
    resolved = api.post(
        f"/v1/findings/{finding['id']}/resolve", compliance.key("validator"), {"note": "Fixed"}
    )
    assert resolved.status == 200, resolved.json
    assert resolved.json["status"] == "resolved" and resolved.json["resolution_note"] == "Fixed"
    # THEN the approval goes through
    assert api.post(decisions, compliance.key("approver"), {"outcome": "approve"}).status == 201


def test_bad_acceptances_and_resolutions_are_refused_and_change_nothing(
    compliance: Compliance,
) -> None:
    world = compliance.approved()
    finding = raise_finding(compliance, world["model"]["id"], severity="low")
    accept = f"/v1/findings/{finding['id']}/accept"
    approver = compliance.key("approver")
    api = compliance.api
    cases = [
        ({"expires_at": later(compliance, days=3)}, 400),  # no reason
        ({"reason": "", "expires_at": later(compliance, days=3)}, 400),
        ({"reason": "ok", "expires_at": later(compliance, days=-1)}, 422),  # in the past
        ({"reason": "ok", "expires_at": "2027-01-01T00:00:00"}, 422),  # no offset
        ({"reason": "ok", "expires_at": later(compliance, days=800)}, 422),  # too far
        ({"reason": "ok", "expires_at": "next week"}, 400),
    ]
    for body, status in cases:
        answer = api.post(accept, approver, body)
        assert answer.status == status, (body, answer.json)
        assert answer.headers["content-type"] == "application/problem+json"
    # the model's team may not accept or resolve its own finding
    assert api.post(accept, compliance.key("developer"), {}).status == 403
    unchanged = api.get(f"/v1/findings/{finding['id']}", compliance.key("auditor")).json
    assert unchanged == finding
    # resolving twice is a conflict
    resolve = f"/v1/findings/{finding['id']}/resolve"
    assert api.post(resolve, compliance.key("validator"), {"note": "done"}).status == 200
    again = api.post(resolve, compliance.key("validator"), {"note": "again"})
    assert again.status == 409, again.json
    # a finding on a model or version that does not exist is a 404 naming the field
    ghost = api.post(
        "/v1/findings",
        compliance.key("validator"),
        {"model_id": world["model"]["id"], "version_number": 9, "severity": "low", "title": "x"},
    )
    assert ghost.status == 404 and ghost.json["errors"][0]["field"] == "body.version_number"
    bad_severity = api.post(
        "/v1/findings",
        compliance.key("validator"),
        {"model_id": world["model"]["id"], "severity": "urgent", "title": "x"},
    )
    assert bad_severity.status == 400, bad_severity.json


def test_findings_filter_by_status_severity_rule_and_model(compliance: Compliance) -> None:
    first = compliance.approved(name="First")
    second = compliance.approved(name="Second")
    raise_finding(compliance, first["model"]["id"], severity="low", title="Low one")
    high = raise_finding(compliance, second["model"]["id"], severity="high", title="High one")
    compliance.overwrite_artifact(first["model"]["id"], b"tampered")
    compliance.scan()
    assert {f["title"] for f in compliance.findings(severity="high")} == {"High one"}
    ours = compliance.findings(model_id=second["model"]["id"], status="open")
    assert [f["id"] for f in ours] == [high["id"]]
    ruled = compliance.findings(rule="artifact.changed", status="open")
    assert [f["model_id"] for f in ruled] == [first["model"]["id"]]
    assert compliance.findings(status="resolved") == []
    bad = compliance.api.get("/v1/findings?status=closed", compliance.key("auditor"))
    assert bad.status == 400, bad.json
