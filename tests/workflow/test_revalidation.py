"""Revalidation of an approved version, with moto executing the workflow: it runs the
tier's revalidation stages while the version stays approved; approval sets the next due
date, rejection rejects the version, cancelling or expiring leaves it approved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import Api, Tenant
from tests.workflow.flow import (
    decide,
    read,
    set_policy,
    settled,
    stage_open,
    submit,
    submitted,
)


def approved(api: Api, tenant: Tenant, pump: Callable[[], int], **model: Any) -> dict[str, Any]:
    """A tier-3 version approved by its approver; the version as read."""
    request = submitted(api, tenant, risk_tier=3, **model)
    stage_open(api, tenant, request["id"], 0, pump)
    assert decide(api, tenant, request["id"], "approver").status == 201
    settled(api, tenant, request["id"], "approved", pump)
    return version_of(api, tenant, request["model_id"])


def version_of(api: Api, tenant: Tenant, model_id: str) -> dict[str, Any]:
    answer = api.get(f"/v1/models/{model_id}/versions/1", tenant.keys["auditor"])
    assert answer.status == 200, answer.json
    return dict(answer.json)


def revalidate(api: Api, tenant: Tenant, model_id: str) -> dict[str, Any]:
    path = f"/v1/models/{model_id}/versions/1/approval-requests"
    answer = api.post(path, tenant.keys["developer"], {"kind": "revalidation"})
    assert answer.status == 201, answer.json
    return dict(answer.json)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_approved_revalidation_keeps_the_version_approved_and_sets_its_next_due_date(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    # GIVEN a tier-3 version approved, due for revalidation in the policy's 1095 days
    before = approved(api, tenant, pump)
    approved_at = when(before["approval"]["approved_at"])
    assert when(before["revalidation_due_at"]) == approved_at + timedelta(days=1095)
    model_id = before["model_id"]
    # WHEN its team submits it for revalidation
    request = revalidate(api, tenant, model_id)
    # THEN it runs the tier's revalidation stage while the version stays approved
    assert request["kind"] == "revalidation"
    assert [(s["name"], s["role"], s["quorum"]) for s in request["stages"]] == [
        ("revalidation", "validator", 1)
    ]
    during = version_of(api, tenant, model_id)
    assert (during["status"], during["revalidation_request_id"]) == ("approved", request["id"])
    # AND no second revalidation, nor an approval, starts meanwhile
    again = api.post(
        f"/v1/models/{model_id}/versions/1/approval-requests",
        tenant.keys["developer"],
        {"kind": "revalidation"},
    )
    assert again.status == 409 and "being revalidated" in again.json["detail"], again.json
    assert submit(api, tenant, model_id).status == 409
    # WHEN the validator approves it
    stage_open(api, tenant, request["id"], 0, pump)
    assert decide(api, tenant, request["id"], "validator").status == 201
    settled(api, tenant, request["id"], "approved", pump)
    # THEN the version is still approved by its first request, revalidated now, and due
    # again 1095 days after that
    after = version_of(api, tenant, model_id)
    assert after["status"] == "approved" and after["revalidation_request_id"] is None
    assert after["approval"] == before["approval"]
    revalidated_at = when(after["revalidated_at"])
    assert revalidated_at > approved_at
    assert when(after["revalidation_due_at"]) == revalidated_at + timedelta(days=1095)


def test_a_rejected_revalidation_rejects_the_version(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    model_id = approved(api, tenant, pump)["model_id"]
    request = revalidate(api, tenant, model_id)
    stage_open(api, tenant, request["id"], 0, pump)
    assert decide(api, tenant, request["id"], "validator", "reject").status == 201
    settled(api, tenant, request["id"], "rejected", pump)
    assert version_of(api, tenant, model_id)["status"] == "rejected"


def test_cancelling_or_expiring_a_revalidation_leaves_the_version_approved(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant

    def quick_revalidation(body: dict[str, Any]) -> None:
        stage = body["tiers"]["3"]["revalidation_stages"][0]
        stage["deadline_seconds"], stage["escalation_seconds"] = 1, 1

    # GIVEN an approved version under revalidation, cancelled by its submitter
    model_id = approved(api, tenant, pump)["model_id"]
    request = revalidate(api, tenant, model_id)
    stage_open(api, tenant, request["id"], 0, pump)
    cancelled = api.post(f"/v1/approval-requests/{request['id']}/cancel", tenant.keys["developer"])
    assert cancelled.status == 200, cancelled.json
    # THEN the version is approved and free to be revalidated again
    after = version_of(api, tenant, model_id)
    assert (after["status"], after["revalidation_request_id"]) == ("approved", None)
    # WHEN a revalidation whose stage waits a second, then another, goes undecided
    set_policy(api, tenant, quick_revalidation)
    expiring = revalidate(api, tenant, model_id)
    done = settled(api, tenant, expiring["id"], "expired", pump)
    # THEN it expires and the version stays approved, its due date unchanged
    assert done["stages"][0]["escalated_at"]
    last = version_of(api, tenant, model_id)
    assert (last["status"], last["revalidation_request_id"]) == ("approved", None)
    assert last["revalidation_due_at"] == after["revalidation_due_at"]
    assert read(api, tenant, expiring["id"])["kind"] == "revalidation"


def test_only_an_approved_version_is_revalidated(wf_api: Api, wf_tenant: Tenant) -> None:
    api, tenant = wf_api, wf_tenant
    request = submitted(api, tenant, risk_tier=3)
    path = f"/v1/models/{request['model_id']}/versions/1/approval-requests"
    answer = api.post(path, tenant.keys["developer"], {"kind": "revalidation"})
    assert answer.status == 409 and "only approved" in answer.json["detail"], answer.json
