"""Taking a version back, with moto executing the workflow: its submitter cancels a pending
request (open or not yet opened), its team reopens a rejected version."""

from __future__ import annotations

from collections.abc import Callable

import boto3

from tests.conftest import Api, Tenant
from tests.harness.tap import EventTap
from tests.workflow.conftest import until
from tests.workflow.flow import (
    CARD,
    actions,
    decide,
    execution,
    read,
    settled,
    stage_open,
    submit,
    submitted,
)


def cancel(api: Api, tenant: Tenant, request_id: str, who: str = "developer") -> int:
    answer = api.post(f"/v1/approval-requests/{request_id}/cancel", tenant.keys[who])
    return answer.status


def test_the_submitter_cancels_an_open_request_and_the_version_is_a_draft_again(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    api, tenant = wf_api, wf_tenant
    tap = EventTap(boto3.session.Session(), executing_aws["CUSTOS_EVENTS_TOPIC_ARN"])
    # GIVEN a tier-2 request at its validation stage, the submitter on a team of two
    request = submitted(api, tenant, risk_tier=2, developer_ids=[tenant.ids["developer2"]])
    stage_open(api, tenant, request["id"], 0, pump)
    # WHEN anyone but its submitter cancels it, THEN 403
    assert cancel(api, tenant, request["id"], "developer2") == 403
    # WHEN the submitter cancels it
    assert cancel(api, tenant, request["id"]) == 200
    # THEN the request and its stage are cancelled, the version is a draft again, and the
    # workflow ends
    shown = read(api, tenant, request["id"])
    assert shown["status"] == "cancelled" and shown["stages"][0]["status"] == "cancelled"
    version_path = f"/v1/models/{request['model_id']}/versions/1"
    assert api.get(version_path, tenant.keys["auditor"]).json["status"] == "draft"
    until(lambda: execution(request["id"], executing_aws)["status"] == "SUCCEEDED", pump)
    assert read(api, tenant, request["id"])["status"] == "cancelled"
    assert actions(api, tenant).count("approval.cancelled") == 1
    assert "approval.cancelled" in [e["type"] for e in tap.take()]
    # AND nobody decides it or cancels it again
    assert decide(api, tenant, request["id"], "validator").status == 409
    assert cancel(api, tenant, request["id"]) == 409
    # AND the draft can be edited and submitted anew
    edited = api.patch(
        version_path,
        tenant.keys["developer"],
        {"description": "after cancelling"},
        api.get(version_path, tenant.keys["developer"]).headers["etag"],
    )
    assert edited.status == 200, edited.json
    again = submit(api, tenant, request["model_id"])
    assert again.status == 201 and again.json["id"] != request["id"], again.json


def test_a_request_cancelled_before_its_first_stage_opens_ends_its_workflow_when_it_does(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    api, tenant = wf_api, wf_tenant
    # GIVEN a request its workflow has not started yet (nothing relayed)
    request = submitted(api, tenant, risk_tier=3)
    # WHEN the submitter cancels it, THEN its stage never opens and its execution ends
    assert cancel(api, tenant, request["id"]) == 200
    until(lambda: execution(request["id"], executing_aws)["status"] == "SUCCEEDED", pump)
    shown = read(api, tenant, request["id"])
    assert shown["status"] == "cancelled" and shown["stages"][0]["status"] == "waiting"
    assert "approval.stage_opened" not in actions(api, tenant)


def test_a_decided_request_can_no_longer_be_cancelled(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    request = submitted(api, tenant, risk_tier=3)
    stage_open(api, tenant, request["id"], 0, pump)
    assert decide(api, tenant, request["id"], "approver", "reject").status == 201
    assert cancel(api, tenant, request["id"]) == 409
    settled(api, tenant, request["id"], "rejected", pump)
    assert cancel(api, tenant, request["id"]) == 409


def test_the_team_reopens_a_rejected_version_to_fix_and_submit_it_anew(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    # GIVEN a rejected version
    request = submitted(api, tenant, risk_tier=3)
    version_path = f"/v1/models/{request['model_id']}/versions/1"
    reopen = f"{version_path}/reopen"
    # (a draft, or a submitted version, is not reopened)
    assert api.post(reopen, tenant.keys["developer"]).status == 409
    stage_open(api, tenant, request["id"], 0, pump)
    assert decide(api, tenant, request["id"], "approver", "reject").status == 201
    settled(api, tenant, request["id"], "rejected", pump)
    # WHEN someone off the team reopens it, THEN 403
    assert api.post(reopen, tenant.keys["developer2"]).status == 403
    # WHEN its team reopens it, THEN it is a draft again, audited and announced
    reopened = api.post(reopen, tenant.keys["developer"])
    assert reopened.status == 200, reopened.json
    assert reopened.json["status"] == "draft" and reopened.headers["etag"]
    assert "version.reopened" in actions(api, tenant)
    # AND its documentation can be fixed and it can be submitted anew
    fixed = api.patch(
        version_path,
        tenant.keys["developer"],
        {"model_card": {**CARD, "caveats_and_recommendations": "Not for small business"}},
        reopened.headers["etag"],
    )
    assert fixed.status == 200, fixed.json
    again = submit(api, tenant, request["model_id"])
    assert again.status == 201, again.json
    shown = api.get(version_path, tenant.keys["auditor"]).json
    assert (shown["status"], shown["approval_request_id"]) == ("submitted", again.json["id"])
    # AND a version that is not the tenant's is not found
    assert (
        api.post(
            "/v1/models/mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RT/versions/1/reopen", tenant.keys["developer"]
        ).status
        == 404
    )
