"""The approval workflow's part, played in process where moto does not execute state
machines (fault injection and the AWS-call benchmark run on plain `mock_aws()`).

A state machine hands the app a stage's task token, and later the request's outcome,
through the WorkflowMessages queue. `play_workflow` hands the same messages to the app's
own consumer, as Lambda would: for a new request, its first stage opened with a token of
its own making (moto, not executing, accepts any token in SendTaskSuccess); for a decision
that rejected a stage, the request's outcome. Nothing else of the workflow is faked: what
the app does with the messages is its own code.
"""

from __future__ import annotations

import importlib
import json
import uuid
from typing import Any

from chalicelib.api.http import Operation
from infra.dispatch import function_handler
from infra.lambda_context import LambdaContext, function_arn
from tests.harness.clients import Answer
from tests.harness.exercise import ExerciseFailed, Exerciser, rejected_stage

CONSUMER = "apply_workflow_message"
FAN_OUT = "fan_out_webhooks"


def play_workflow(ex: Exerciser, post: Operation, answer: Answer) -> None:
    """What the workflow would send after `post` answered `answer`, applied by the app;
    and, for a webhook test event, its fan-out (the relay's part: the event handed to the
    fan-out consumer), so its delivery exists."""
    # By name: the benchmark measures fresh copies of the app, each with its own classes.
    if post.response is not None and post.response.__name__ == "WebhookTestQueued":
        if answer.status == 202:
            _fan_out(ex, answer.json)
        return
    if post.response is None or post.response.__name__ != "ApprovalRequest":
        return
    if answer.status >= 300:
        return
    request = {"tenant_id": ex.tenant.id, "request_id": answer.json["id"]}
    if answer.json.get("status") == "pending":
        task_token = f"fake-token-{uuid.uuid4()}"
        _apply({**request, "kind": "stage.opened", "stage": 0, "task_token": task_token})
    elif rejected_stage(answer.json):
        _apply({**request, "kind": "request.decided", "outcome": "reject"})


def _fan_out(ex: Exerciser, queued: dict[str, Any]) -> None:
    event = {
        "id": queued["event_id"],
        "type": "webhook.test",
        "tenant_id": ex.tenant.id,
        "created_at": "2026-12-01T09:00:00.000Z",
        "data": {"webhook_id": queued["webhook_id"], "message": "A test event from Custos"},
    }
    _apply(event, FAN_OUT)


def _apply(body: dict[str, Any], consumer: str = CONSUMER) -> None:
    message_id = str(uuid.uuid4())
    record = {
        "messageId": message_id,
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    app = importlib.import_module("app").app
    context = LambdaContext.for_invocation(
        consumer, function_arn("us-east-1", "123456789012", consumer), 60, message_id
    )
    result = function_handler(app, consumer)({"Records": [record]}, context)
    if result.get("batchItemFailures"):
        raise ExerciseFailed(f"{consumer} failed to apply {body.get('kind') or body['type']}")
