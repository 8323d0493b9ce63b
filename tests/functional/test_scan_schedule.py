"""The scan's schedule and the rules that need time to pass: revalidation coming due and
overdue, approval expiry, stalled requests, findings past due; one message per tenant,
each scanned alone."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import timedelta
from typing import Any

import boto3

from chalicelib.domain.policy import DEFAULT_BODY
from tests.conftest import make_tenant
from tests.functional.compliance_world import Compliance, compliance
from tests.harness.tap import EventTap

__all__ = ["compliance"]  # fixtures


def short_revalidation(days: int) -> dict[str, Any]:
    tiers = copy.deepcopy(DEFAULT_BODY["tiers"])
    tiers["3"]["revalidation_interval_days"] = days
    return tiers


def test_revalidation_due_soon_is_announced_then_overdue_once_the_date_passes(
    compliance: Compliance,
) -> None:
    compliance.set_policy(tiers=short_revalidation(20))
    tap = EventTap(boto3.session.Session(), compliance.env["CUSTOS_EVENTS_TOPIC_ARN"])
    world = compliance.approved()
    model_id = world["model"]["id"]
    # WHEN a scan runs with the revalidation 20 days away
    compliance.scan()
    # THEN a low warning is open and `revalidation.due` went out for the version
    [soon] = compliance.findings(rule="revalidation.due_soon")
    assert (soon["severity"], soon["version_number"]) == ("low", 1)
    due = [e for e in tap.take() if e["type"] == "revalidation.due"]
    assert [(e["data"]["model_id"], e["data"]["finding_id"]) for e in due] == [
        (model_id, soon["id"])
    ]
    # WHEN the date passes
    compliance.clock.advance(days=21)
    compliance.scan()
    # THEN the revalidation is overdue (high) and the warning gave way to it
    assert compliance.rules_open(model_id) == {"revalidation.overdue"}
    assert compliance.findings(rule="revalidation.due_soon")[0]["status"] == "resolved"


def test_an_expired_approval_and_a_finding_past_due_are_findings(compliance: Compliance) -> None:
    world = compliance.approved()
    expires = (compliance.clock.now + timedelta(days=2)).isoformat()
    lapsing = compliance.approved(name="Lapsing", approval_expires_at=expires)
    compliance.deploy(lapsing["path"])
    compliance.report(lapsing["path"], ("auc", 0.8))
    body = {"model_id": world["model"]["id"], "severity": "critical", "title": "Unfixed"}
    manual = compliance.api.post("/v1/findings", compliance.key("validator"), body)
    assert manual.status == 201, manual.json
    # WHEN eight days pass (a critical finding is due in seven)
    compliance.clock.advance(days=8)
    compliance.scan()
    # THEN the finding past due is a high finding of its own, naming it
    [overdue] = compliance.findings(rule="finding.overdue")
    assert overdue["facts"]["finding_id"] == manual.json["id"]
    assert overdue["model_id"] == world["model"]["id"]
    # AND the approval that lapsed is a finding, and so is the deployment still running it
    lapsed = compliance.rules_open(lapsing["model"]["id"])
    assert {"approval.expired", "deployment.unapproved"} == lapsed
    [running] = compliance.findings(rule="deployment.unapproved")
    assert running["severity"] == "critical" and "lapsed" in running["detail"]


def test_the_schedule_scans_every_active_tenant_alone_and_a_failing_one_does_not_stop_others(
    compliance: Compliance,
) -> None:
    from app import app
    from infra.dispatch import function_handler
    from infra.lambda_context import LambdaContext
    from infra.schedules import scheduled_event

    healthy = compliance.approved()
    compliance.overwrite_artifact(healthy["model"]["id"], b"tampered")
    broken = make_tenant(compliance.api, "Broken")
    # GIVEN the other tenant holds a model item the scan cannot read (no owner)
    table = boto3.resource("dynamodb").Table(compliance.env["CUSTOS_TABLE"])
    table.put_item(
        Item={"pk": f"T#{broken.id}#MODEL", "sk": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS", "name": "?"}
    )
    compliance.drain()
    # WHEN the nightly schedule fires and the scan queue is drained
    function = "start_compliance_scans"
    context = LambdaContext.for_invocation(function, "arn:local", 60, str(uuid.uuid4()))
    sent = function_handler(app, function)(scheduled_event(function, compliance.clock.now), context)
    assert sent["tenants"] >= 2
    for _ in range(3):
        compliance.dispatcher.pump_all()
    # THEN the healthy tenant's scan completed and found the tampered artifact
    scans = compliance.api.get("/v1/compliance-scans", compliance.key("auditor")).json["items"]
    assert [s["status"] for s in scans] == ["completed"] and scans[0]["trigger"] == "schedule"
    assert [f["rule"] for f in compliance.findings()] == ["artifact.changed"]
    # AND the broken tenant's scan failed alone, saying why; its message stays to retry
    failed = compliance.api.get("/v1/compliance-scans", broken.keys["auditor"]).json["items"]
    assert [s["status"] for s in failed] == ["failed"], failed
    assert failed[0]["error"] and failed[0]["attempts"] == 1
    sqs = boto3.client("sqs")
    url = compliance.env["CUSTOS_COMPLIANCE_SCANS_QUEUE_URL"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 1, json.dumps(attributes)


def test_a_policy_that_now_requires_more_documentation_and_a_stalled_request_are_findings(
    compliance: Compliance,
) -> None:
    from tests.conftest import confirm_tier, new_model

    world = compliance.approved()
    # GIVEN the policy now requires the training data section for tier 3
    tiers = copy.deepcopy(DEFAULT_BODY["tiers"])
    tiers["3"]["required_model_card_fields"] = ["intended_use", "training_data"]
    compliance.set_policy(tiers=tiers)
    # AND a request whose open stage the workflow never escalated or expired
    api, dev = compliance.api, compliance.key("developer")
    stalled = new_model(api, compliance.tenant, risk_tier=3, name="Stalled")
    confirm_tier(api, compliance.tenant, stalled)
    versions = f"/v1/models/{stalled['id']}/versions"
    card = {"intended_use": "x", "training_data": "y"}
    assert api.post(versions, dev, {"model_card": card}).status == 201
    request = api.post(f"{versions}/1/approval-requests", dev, {"kind": "approval"}).json
    compliance.workflow(request["id"], kind="stage.opened", stage=0, task_token="t-stall")
    # WHEN eight days pass (the stage's deadline is a week) and a scan runs
    compliance.clock.advance(days=8)
    compliance.scan()
    # THEN the approved version's missing section and the stalled request are findings
    [missing] = compliance.findings(rule="documentation.incomplete")
    assert missing["model_id"] == world["model"]["id"]
    assert missing["facts"]["missing"] == ["training_data"]
    [stuck] = compliance.findings(rule="approval.stuck")
    assert (stuck["model_id"], stuck["facts"]["request_id"]) == (stalled["id"], request["id"])
