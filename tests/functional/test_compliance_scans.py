"""Compliance scans over the API: what each rule finds, that scans upsert rather than
duplicate, resolve what cleared and reopen what came back, and that open critical or high
findings block decisions and production deployments."""

from __future__ import annotations

from typing import Any

from tests.functional.compliance_world import Compliance, compliance

__all__ = ["compliance"]  # fixtures


def test_a_scan_of_a_tenant_in_order_opens_nothing_and_reports_its_counts(
    compliance: Compliance,
) -> None:
    world = compliance.approved()
    compliance.deploy(world["path"])
    compliance.report(world["path"], ("auc", 0.81))
    # WHEN a validator asks for a scan
    scan = compliance.scan()
    # THEN it completed, saw the model, its approved version and its deployment, and found
    # nothing out of policy
    assert scan["status"] == "completed", scan
    assert scan["trigger"] == "request" and scan["phase"] == "done"
    counts = scan["counts"]
    assert (counts["models"], counts["versions"], counts["deployments"]) == (1, 1, 1), counts
    assert compliance.findings() == []
    assert "compliance_scan.requested" in compliance.audit_actions()


def test_an_approved_artifact_replaced_in_s3_is_a_critical_finding_on_its_version(
    compliance: Compliance,
) -> None:
    world = compliance.approved()
    model_id = world["model"]["id"]
    compliance.deploy(world["path"])
    compliance.report(world["path"], ("auc", 0.81))
    # GIVEN someone replaces the approved object in the bucket
    compliance.overwrite_artifact(model_id, b"weights v2, never approved")
    # WHEN the scan runs
    compliance.scan()
    # THEN one critical finding names the artifact and both object versions
    found = compliance.findings(rule="artifact.changed")
    assert len(found) == 1, found
    finding = found[0]
    assert (finding["severity"], finding["status"], finding["kind"]) == ("critical", "open", "rule")
    assert finding["model_id"] == model_id and finding["version_number"] == 1
    assert "model.bin" in finding["detail"]
    assert finding["facts"]["current_version_id"] != finding["facts"]["approved_version_id"]
    # AND the finding is open on the model's counts: the inventory's filter finds it
    assert [f["id"] for f in compliance.findings(model_id=model_id, status="open")] == [
        finding["id"]
    ]


def test_scanning_again_keeps_the_same_finding_and_adds_no_audit_entry_for_it(
    compliance: Compliance,
) -> None:
    world = compliance.approved()
    compliance.overwrite_artifact(world["model"]["id"], b"tampered")
    compliance.scan()
    first = compliance.findings()
    opened = compliance.audit_actions().count("finding.opened")
    # WHEN the scan runs again with nothing changed
    compliance.clock.advance(hours=1)
    again = compliance.scan()
    # THEN the same finding, seen later; nothing opened twice, nothing audited for it
    second = compliance.findings()
    assert [f["id"] for f in second] == [f["id"] for f in first], (first, second)
    assert second[0]["last_seen_at"] > first[0]["last_seen_at"]
    assert second[0]["revision"] == first[0]["revision"]
    assert again["counts"]["opened"] == 0 and again["counts"]["updated"] >= 1
    assert compliance.audit_actions().count("finding.opened") == opened


def test_a_finding_whose_condition_clears_is_resolved_and_reopens_if_it_comes_back(
    compliance: Compliance,
) -> None:
    api, admin = compliance.api, compliance.key("admin")
    made = api.post("/v1/principals", admin, {"name": "Risk owner", "roles": ["developer"]})
    assert made.status == 201, made.json
    owner_id = made.json["id"]
    world = compliance.approved(owner_id=owner_id)
    model = world["model"]
    # GIVEN the model's owner leaves and is deactivated
    set_status(compliance, owner_id, "deactivated")
    compliance.scan()
    assert compliance.rules_open(model["id"]) == {"owner.inactive"}
    finding = compliance.findings(rule="owner.inactive")[0]
    assert finding["version_number"] is None and finding["severity"] == "high"
    assert owner_id in finding["detail"] and "deactivated" in finding["detail"]
    # WHEN the owner is active again and the scan runs
    set_status(compliance, owner_id, "active")
    compliance.scan()
    # THEN the finding is resolved by the scan (no principal), its condition cleared
    resolved = get_finding(compliance, finding["id"])
    assert resolved["status"] == "resolved" and resolved["resolved_by"] is None
    assert "cleared" in resolved["resolution_note"]
    # AND when the owner is deactivated again, the next scan reopens the same finding
    set_status(compliance, owner_id, "deactivated")
    compliance.scan()
    reopened = get_finding(compliance, finding["id"])
    assert reopened["status"] == "open" and reopened["reopened_count"] == 1
    actions = compliance.audit_actions()
    assert actions.count("finding.opened") == 2 and actions.count("finding.resolved") == 1


def set_status(compliance: Compliance, principal_id: str, status: str) -> None:
    path, admin = f"/v1/principals/{principal_id}", compliance.key("admin")
    etag = compliance.api.get(path, admin).headers["etag"]
    answer = compliance.api.call("PATCH", path, admin, {"status": status}, {"If-Match": etag})
    assert answer.status == 200, answer.json


def patch_model(compliance: Compliance, model_id: str, body: dict[str, Any]) -> None:
    path = f"/v1/models/{model_id}"
    dev = compliance.key("developer")
    etag = compliance.api.get(path, dev).headers["etag"]
    answer = compliance.api.call("PATCH", path, dev, body, {"If-Match": etag})
    assert answer.status == 200, answer.json


def get_finding(compliance: Compliance, finding_id: str) -> dict[str, Any]:
    answer = compliance.api.get(f"/v1/findings/{finding_id}", compliance.key("developer"))
    assert answer.status == 200, answer.json
    return dict(answer.json)


def test_a_metric_beyond_its_threshold_and_stale_metrics_are_findings_of_production_versions(
    compliance: Compliance,
) -> None:
    threshold = {"metric": "auc", "comparison": "lt", "threshold": 0.7, "severity": "high"}
    compliance.set_policy(metric_thresholds=[threshold], metrics_stale_after_days=30)
    world = compliance.approved()
    compliance.deploy(world["path"])
    model_id = world["model"]["id"]
    # GIVEN the monitor reports an AUC below the policy's floor
    compliance.report(world["path"], ("auc", 0.64), ("psi", 0.1))
    compliance.scan()
    # THEN a high finding says which metric, its value and the threshold
    [breach] = compliance.findings(rule="metric.threshold")
    assert (breach["severity"], breach["status"], breach["version_number"]) == ("high", "open", 1)
    assert breach["facts"]["value"] == 0.64 and breach["facts"]["threshold"] == 0.7
    assert "auc" in breach["detail"]
    # WHEN a newer point is back above it
    compliance.clock.advance(minutes=5)
    compliance.report(world["path"], ("auc", 0.78))
    compliance.scan()
    # THEN the breach is resolved by the scan
    assert get_finding(compliance, breach["id"])["status"] == "resolved"
    assert compliance.rules_open(model_id) == set()
    # AND a month without data points makes the version's metrics stale
    compliance.clock.advance(days=31)
    compliance.scan()
    assert "metrics.stale" in compliance.rules_open(model_id)
