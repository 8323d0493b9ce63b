"""The approval workflow's first piece, executed by moto's Step Functions: a submitted
request starts one execution, its stage's task token is kept as an operational record and
the stage opens (audited, announced); its outcome, or its deadline, closes the request."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3

from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import ApprovalStage, Outcome
from chalicelib.domain.roles import Role
from chalicelib.services import workflow
from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys
from tests.conftest import Api, Tenant, new_model
from tests.functional.route_fixtures import items_of
from tests.workflow.conftest import until


def submitted(api: Api, tenant: Tenant, timeout_seconds: int) -> str:
    model = new_model(api, tenant)
    assert (
        api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {}).status == 201
    )
    developer = Actor.of_principal(
        "test", tenant.id, tenant.ids["developer"], "key_test", frozenset({Role.DEVELOPER})
    )
    stage = ApprovalStage(
        index=0, name="validation", role=Role.VALIDATOR, quorum=1, timeout_seconds=timeout_seconds
    )
    return workflow.submit(developer, model["id"], 1, [stage]).id


def execution(request_id: str, env: dict[str, str]) -> dict[str, str]:
    machine = env["CUSTOS_APPROVAL_STATE_MACHINE_ARN"]
    arn = machine.replace(":stateMachine:", ":execution:") + f":{request_id}"
    return dict(boto3.client("stepfunctions").describe_execution(executionArn=arn))


def request_status(tenant: Tenant, request_id: str) -> str:
    item = dynamo.get(TenantKeys(tenant.id).approval(request_id))
    assert item is not None
    return str(item["status"])


def test_a_submitted_request_runs_its_stage_and_closes_on_its_outcome(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    # GIVEN a submitted request with one stage
    request_id = submitted(wf_api, wf_tenant, timeout_seconds=60)
    # WHEN the dispatcher relays the submission and the workflow opens the stage
    until(lambda: request_status(wf_tenant, request_id) == "in_review", pump)
    # THEN one execution, named by the request, runs; the stage's token is kept
    assert execution(request_id, executing_aws)["status"] == "RUNNING"
    token = dynamo.get(TenantKeys(wf_tenant.id).task_token(request_id, 0))
    assert token is not None and token["task_token"]
    # AND the stage's opening is audited by the workflow and announced
    events = items_of(wf_api, "/v1/audit-events", wf_tenant.keys["auditor"])
    opened = [e for e in events if e["action"] == "approval.stage_opened"]
    assert len(opened) == 1
    assert (opened[0]["actor"]["kind"], opened[0]["actor"]["system"]) == ("system", "workflow")
    # WHEN the stage's outcome is sent back
    validator = Actor.of_principal(
        "t", wf_tenant.id, wf_tenant.ids["validator"], "key_t", frozenset({Role.VALIDATOR})
    )
    assert workflow.complete_stage(validator, request_id, 0, Outcome.APPROVE)
    # THEN the machine finishes and the request is approved, audited once
    until(lambda: request_status(wf_tenant, request_id) == "approved", pump)
    until(lambda: execution(request_id, executing_aws)["status"] == "SUCCEEDED", pump)
    events = items_of(wf_api, "/v1/audit-events", wf_tenant.keys["auditor"])
    assert [e["action"] for e in events].count("approval.decided") == 1
    verified = wf_api.get("/v1/audit/verify?full=true", wf_tenant.keys["auditor"]).json
    assert verified["valid"]
    # AND task tokens never leave the server: no audit event carries one
    assert token["task_token"] not in json.dumps(events)


def test_a_stage_nobody_decides_expires_at_its_deadline(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    request_id = submitted(wf_api, wf_tenant, timeout_seconds=1)
    until(lambda: request_status(wf_tenant, request_id) == "expired", pump)
    until(lambda: execution(request_id, executing_aws)["status"] == "SUCCEEDED", pump)
    validator = Actor.of_principal(
        "t", wf_tenant.id, wf_tenant.ids["validator"], "key_t", frozenset({Role.VALIDATOR})
    )
    # A late outcome finds the stage closed by the workflow.
    assert workflow.complete_stage(validator, request_id, 0, Outcome.APPROVE) is False


def test_a_redelivered_workflow_message_is_applied_once(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    from chalicelib.domain.actors import SystemPart
    from chalicelib.entrypoints import Message

    # GIVEN a stage the workflow opened
    request_id = submitted(wf_api, wf_tenant, timeout_seconds=60)
    until(lambda: request_status(wf_tenant, request_id) == "in_review", pump)
    token = dynamo.get(TenantKeys(wf_tenant.id).task_token(request_id, 0))
    assert token is not None
    body = {
        "kind": "stage.opened",
        "tenant_id": wf_tenant.id,
        "request_id": request_id,
        "stage": 0,
        "task_token": token["task_token"],
    }
    # WHEN SQS delivers its message again
    actor = Actor.of_system(SystemPart.WORKFLOW, "redelivery", wf_tenant.id)
    workflow.apply(actor, Message("redelivery", body, {}, 2))
    # THEN nothing more is recorded
    events = items_of(wf_api, "/v1/audit-events", wf_tenant.keys["auditor"])
    assert [e["action"] for e in events].count("approval.stage_opened") == 1


def test_the_reconciler_answers_a_callback_whose_first_answer_was_lost(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    from datetime import timedelta

    from chalicelib.domain.actors import SystemPart
    from chalicelib.services.records import timestamp
    from chalicelib.store.scope import for_tenant

    request_id = submitted(wf_api, wf_tenant, timeout_seconds=60)
    until(lambda: request_status(wf_tenant, request_id) == "in_review", pump)
    # GIVEN a stage whose outcome was decided and owed, but never reached the workflow
    for_tenant(wf_tenant.id).operational.owe_callback(request_id, 0, "reject", timestamp())
    # WHEN the reconciler runs
    scheduler = Actor.of_system(SystemPart.SCHEDULER, "tick")
    assert workflow.reconcile(scheduler, grace=timedelta(0)) == {"sent": 1, "closed": 0}
    # THEN the workflow gets it, and the request closes as rejected; nothing is owed after
    until(lambda: request_status(wf_tenant, request_id) == "rejected", pump)
    assert workflow.reconcile(scheduler, grace=timedelta(0)) == {"sent": 0, "closed": 0}
