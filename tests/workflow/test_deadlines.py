"""Deadlines of seconds (durations come from the execution's input), with moto executing
the workflow: an undecided stage escalates once, then expires the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from tests.conftest import Api, Tenant
from tests.harness.tap import EventTap
from tests.workflow.conftest import until
from tests.workflow.flow import (
    actions,
    decide,
    execution,
    read,
    set_policy,
    settled,
    stage_open,
    submitted,
)


def quick_tier_3(deadline: int, escalation: int, contacts: list[str]) -> Callable[[Any], None]:
    """A policy edit: tier 3's approval stage waits `deadline` s, then `escalation` s."""

    def edit(body: dict[str, Any]) -> None:
        stage = body["tiers"]["3"]["stages"][0]
        stage["deadline_seconds"], stage["escalation_seconds"] = deadline, escalation
        body["escalation_contact_ids"] = contacts

    return edit


def escalated(api: Api, tenant: Tenant, request_id: str, pump: Callable[[], int]) -> Any:
    def reached() -> dict[str, Any] | None:
        request = read(api, tenant, request_id)
        return request if request["stages"][0]["escalated_at"] else None

    return until(reached, pump)


def test_an_undecided_stage_escalates_once_then_expires_and_the_version_is_a_draft_again(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    api, tenant = wf_api, wf_tenant
    tap = EventTap(boto3.session.Session(), executing_aws["CUSTOS_EVENTS_TOPIC_ARN"])
    # GIVEN a policy whose tier-3 stage waits 2 s, then 3 s once escalated, with the
    # auditor as escalation contact
    set_policy(api, tenant, quick_tier_3(2, 3, [tenant.ids["auditor"]]))
    request = submitted(api, tenant, risk_tier=3)
    opened = stage_open(api, tenant, request["id"], 0, pump)["stages"][0]
    # WHEN nobody decides, THEN the stage escalates with a new deadline
    stage = escalated(api, tenant, request["id"], pump)["stages"][0]
    assert stage["status"] == "open" and stage["deadline"] > opened["deadline"]
    # AND its deciders and the escalation contacts are told
    pump()
    told = [e for e in tap.take() if e["type"] == "approval.escalated"]
    assert len(told) == 1
    data = told[0]["data"]
    assert data["escalation_contact_ids"] == [tenant.ids["auditor"]]
    assert data["stage"]["role"] == "approver" and data["request_id"] == request["id"]
    # WHEN it stays undecided, THEN the request expires and the version is a draft again
    done = settled(api, tenant, request["id"], "expired", pump)
    assert done["stages"][0]["status"] == "expired"
    version = api.get(f"/v1/models/{request['model_id']}/versions/1", tenant.keys["auditor"])
    assert version.json["status"] == "draft"
    until(lambda: execution(request["id"], executing_aws)["status"] == "SUCCEEDED", pump)
    trail = actions(api, tenant)
    assert trail.count("approval.escalated") == 1 and trail.count("approval.expired") == 1
    assert "approval.expired" in [e["type"] for e in tap.take()]
    # AND a decision now is too late: 409, audited
    late = decide(api, tenant, request["id"], "approver")
    assert late.status == 409, late.json
    assert "approval.decision_refused" in actions(api, tenant)
    # AND the draft can be submitted anew
    again = api.post(
        f"/v1/models/{request['model_id']}/versions/1/approval-requests",
        tenant.keys["developer"],
        {"kind": "approval"},
    )
    assert again.status == 201 and again.json["id"] != request["id"], again.json


def test_a_stage_decided_after_it_escalated_is_answered_on_the_escalations_token(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    api, tenant = wf_api, wf_tenant
    # GIVEN a stage that escalated after 1 s and now waits a minute more
    set_policy(api, tenant, quick_tier_3(1, 60, []))
    request = submitted(api, tenant, risk_tier=3)
    stage_open(api, tenant, request["id"], 0, pump)
    escalated(api, tenant, request["id"], pump)
    # WHEN the approver approves, THEN the workflow approves the version
    assert decide(api, tenant, request["id"], "approver").status == 201
    settled(api, tenant, request["id"], "approved", pump)
    version = api.get(f"/v1/models/{request['model_id']}/versions/1", tenant.keys["auditor"])
    assert version.json["status"] == "approved"
    until(lambda: execution(request["id"], executing_aws)["status"] == "SUCCEEDED", pump)
