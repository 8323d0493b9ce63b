"""Decisions under pressure, with moto executing the workflow: deciders racing on one stage,
approve racing reject, and a decision whose callback to the workflow was lost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import Api, Tenant
from tests.harness.clients import Answer
from tests.workflow.conftest import until
from tests.workflow.flow import (
    actions,
    decide,
    execution,
    person,
    read,
    settled,
    stage_open,
    submitted,
)

pytestmark = pytest.mark.usefixtures("atomic_aws")
SEND = "before-call.sfn.SendTaskSuccess"  # where a call can be made to fail
ASKED = "provide-client-params.sfn.SendTaskSuccess"  # where its parameters are seen


@pytest.fixture
def callbacks(executing_aws: dict[str, str]) -> Iterator[list[str]]:
    """The outcomes the app sends the workflow with SendTaskSuccess, in order."""
    import json

    from chalicelib.bootstrap import client

    sent: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        sent.append(json.loads(params["output"])["outcome"])

    hooks = client("stepfunctions").meta.events
    hooks.register(ASKED, count, unique_id="count")
    yield sent
    hooks.unregister(ASKED, unique_id="count")


def at_once(calls: list[Callable[[], Answer]]) -> list[Answer]:
    """Run `calls` on threads released together; their answers, in the order given."""
    barrier = threading.Barrier(len(calls))
    answers: list[Answer | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert all(a is not None for a in answers), "a decider never answered"
    return [a for a in answers if a is not None]


def deciding(api: Api, tenant: Tenant, request_id: str, who: str) -> Callable[[], Answer]:
    return lambda: decide(api, tenant, request_id, who)


def states_entered(request_id: str, env: dict[str, str]) -> list[str]:
    arn = execution(request_id, env)["executionArn"]
    history = boto3.client("stepfunctions").get_execution_history(executionArn=arn)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]


def test_twenty_approvers_at_once_on_a_quorum_of_one_make_one_decision_and_one_callback(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], callbacks: list[str]
) -> None:
    api, tenant = wf_api, wf_tenant
    # GIVEN a tier-3 request (one approval stage, quorum 1) open, and 20 eligible approvers
    request = submitted(api, tenant, risk_tier=3)
    stage_open(api, tenant, request["id"], 0, pump)
    approvers = [f"approver {i}" for i in range(20)]
    for who in approvers:
        person(api, tenant, who, "approver")
    # WHEN all twenty approve at once
    answers = at_once([deciding(api, tenant, request["id"], who) for who in approvers])
    # THEN exactly one is accepted, the rest are told the stage closed
    statuses = sorted(a.status for a in answers)
    assert statuses == [201] + [409] * 19, [a.json for a in answers if a.status not in (201, 409)]
    assert all("decisions on it are over" in a.json["detail"] for a in answers if a.status == 409)
    # AND the workflow was called back once, and approves the version
    done = settled(api, tenant, request["id"], "approved", pump)
    assert callbacks == ["approve"]
    [decision] = done["stages"][0]["decisions"]
    winner = next(who for who, a in zip(approvers, answers, strict=True) if a.status == 201)
    assert decision["principal_id"] == tenant.ids[winner]
    # AND every refusal is audited, beside the one decision
    trail = actions(api, tenant)
    assert trail.count("approval.decided") == 1
    assert trail.count("approval.decision_refused") == 19


def test_approve_racing_reject_has_one_winner_and_the_execution_agrees(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    for round_ in range(3):
        race_approve_and_reject(wf_api, wf_tenant, pump, executing_aws, f"Race {round_}")


def race_approve_and_reject(
    api: Api, tenant: Tenant, pump: Callable[[], int], env: dict[str, str], name: str
) -> None:
    # GIVEN an open quorum-1 stage
    request_id = submitted(api, tenant, risk_tier=3, name=name)["id"]
    stage_open(api, tenant, request_id, 0, pump)
    # WHEN one approver approves as another rejects
    approve, reject = at_once(
        [
            lambda: decide(api, tenant, request_id, "approver"),
            lambda: decide(api, tenant, request_id, "approver2", "reject"),
        ]
    )
    # THEN one wins; the request, the version and the execution all say the same
    assert sorted([approve.status, reject.status]) == [201, 409], (approve.json, reject.json)
    won = "approved" if approve.status == 201 else "rejected"
    done = settled(api, tenant, request_id, won, pump)
    version = api.get(f"/v1/models/{done['model_id']}/versions/1", tenant.keys["auditor"])
    assert version.json["status"] == won
    until(lambda: execution(request_id, env)["status"] == "SUCCEEDED", pump)
    sent = "SendApproved" if won == "approved" else "SendRejected"
    entered = states_entered(request_id, env)
    assert sent in entered and ({"SendApproved", "SendRejected"} - {sent}).isdisjoint(entered)


@contextmanager
def callbacks_lost() -> Iterator[None]:
    """Every SendTaskSuccess the app makes meanwhile fails on the way (the connection)."""
    from botocore.exceptions import EndpointConnectionError

    from chalicelib.bootstrap import client

    def lost(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://states.example")

    hooks = client("stepfunctions").meta.events
    hooks.register_first(SEND, lost, unique_id="lost")
    try:
        yield
    finally:
        hooks.unregister(SEND, unique_id="lost")


def owed_long_ago(tenant: Tenant, request_id: str, outcome: str) -> None:
    """The stage's callback as if it had been owed for ten minutes (past the grace)."""
    from chalicelib.store.scope import for_tenant

    ago = (datetime.now(UTC) - timedelta(minutes=10)).isoformat(timespec="milliseconds")
    stamp = ago.replace("+00:00", "Z")
    for_tenant(tenant.id).operational.owe_callback(request_id, 0, outcome, stamp)


def test_a_decision_whose_callback_was_lost_is_completed_by_the_reconciler(
    wf_api: Api,
    wf_tenant: Tenant,
    pump: Callable[[], int],
    executing_aws: dict[str, str],
    callbacks: list[str],
) -> None:
    from app import app
    from infra.dispatch import Dispatcher

    api, tenant = wf_api, wf_tenant
    request = submitted(api, tenant, risk_tier=3)
    stage_open(api, tenant, request["id"], 0, pump)
    # GIVEN a decision whose SendTaskSuccess is lost on the way
    with callbacks_lost():
        answer = decide(api, tenant, request["id"], "approver")
    # THEN the decision stands: the stage is closed, the workflow still waits on it
    assert answer.status == 201, answer.json
    assert answer.json["stages"][0]["status"] == "closed"
    pump()
    assert read(api, tenant, request["id"])["status"] == "in_review"
    assert execution(request["id"], executing_aws)["status"] == "RUNNING"
    # WHEN the reconcile_callbacks schedule fires once the callback is past its grace
    owed_long_ago(tenant, request["id"], "approve")
    dispatcher = Dispatcher(app, boto3.session.Session(), executing_aws)
    assert "reconcile_callbacks" in dispatcher.run_due_schedules(
        datetime.now(UTC) + timedelta(days=2)
    )
    # THEN it sends the owed outcome, and the workflow approves the version
    settled(api, tenant, request["id"], "approved", pump)
    assert callbacks == ["approve", "approve"]  # the lost one, then the reconciler's
    until(lambda: execution(request["id"], executing_aws)["status"] == "SUCCEEDED", pump)


def test_a_callback_owed_to_a_token_the_workflow_closed_counts_as_answered(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    from chalicelib.domain.actors import Actor, SystemPart
    from chalicelib.services import workflow
    from chalicelib.store import dynamo
    from chalicelib.store.keys import TenantKeys

    api, tenant = wf_api, wf_tenant
    # GIVEN a request approved, its execution finished, and its stage's callback owed once
    # more (as when SendTaskSuccess went through but its answer never came back)
    request = submitted(api, tenant, risk_tier=3)
    stage_open(api, tenant, request["id"], 0, pump)
    assert decide(api, tenant, request["id"], "approver").status == 201
    settled(api, tenant, request["id"], "approved", pump)
    until(lambda: execution(request["id"], executing_aws)["status"] == "SUCCEEDED", pump)
    owed_long_ago(tenant, request["id"], "approve")
    # WHEN the reconciler runs, THEN it counts the token closed and owes it nothing more
    actor = Actor.of_system(SystemPart.SCHEDULER, "req_reconcile")
    assert workflow.reconcile(actor) == {"sent": 0, "closed": 1}
    token = dynamo.get(TenantKeys(tenant.id).task_token(request["id"], 0))
    assert token is not None and token["callback"] in workflow.CLOSED_TOKEN
    assert "gsi1pk" not in token
    assert workflow.reconcile(actor) == {"sent": 0, "closed": 0}
