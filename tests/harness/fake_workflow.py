"""The approval workflow's part, played in process where moto does not execute state
machines (fault injection and the AWS-call benchmark run on plain `mock_aws()`).

A state machine's first task hands the app the first stage's task token through the
WorkflowMessages queue; `open_first_stage` hands the same message to the app's own
consumer, as Lambda would, with a token of its own making (moto, not executing, accepts
any token in SendTaskSuccess). Nothing else of the workflow is faked: what the app does
with the message is its own code.
"""

from __future__ import annotations

import importlib
import json
import uuid

from chalicelib.api.http import Operation
from infra.dispatch import function_handler
from infra.lambda_context import LambdaContext, function_arn
from tests.harness.clients import Answer
from tests.harness.exercise import ExerciseFailed, Exerciser

CONSUMER = "apply_workflow_message"


def open_first_stage(ex: Exerciser, post: Operation, answer: Answer) -> None:
    """For a new approval request: its first stage opened, as the workflow would open it."""
    from chalicelib.domain.approvals import ApprovalRequest

    if post.response is not ApprovalRequest or answer.json.get("status") != "pending":
        return
    body = {
        "kind": "stage.opened",
        "tenant_id": ex.tenant.id,
        "request_id": answer.json["id"],
        "stage": 0,
        "task_token": f"fake-token-{uuid.uuid4()}",
    }
    message_id = str(uuid.uuid4())
    record = {
        "messageId": message_id,
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    app = importlib.import_module("app").app
    context = LambdaContext.for_invocation(
        CONSUMER, function_arn("us-east-1", "123456789012", CONSUMER), 60, message_id
    )
    result = function_handler(app, CONSUMER)({"Records": [record]}, context)
    if result.get("batchItemFailures"):
        raise ExerciseFailed(f"the workflow consumer failed to open {answer.json['id']}")
