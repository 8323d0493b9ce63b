"""The approval workflow's consumers and its callback reconciler."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.entrypoints import Message, Queue, consumer, schedule, state_machine

bp = Blueprint(__name__)

APPROVAL = state_machine("approval")

# Takes `approval.submitted` from the fan-out topic and starts the request's execution.
APPROVAL_STARTS = Queue(
    logical_id="ApprovalStarts",
    env_var="CUSTOS_APPROVAL_STARTS_QUEUE_URL",
    visibility_timeout_seconds=60,
    subscribes_to=("approval.submitted",),
)
# What the state machine sends: task tokens of opened stages, outcomes, expiries.
WORKFLOW_MESSAGES = Queue(
    logical_id="WorkflowMessages",
    env_var="CUSTOS_WORKFLOW_MESSAGES_QUEUE_URL",
    visibility_timeout_seconds=60,
)


def _submitted_example() -> dict[str, Any]:
    from chalicelib.domain.approvals import ApprovalRequest

    example = ApprovalRequest.model_json_schema()["examples"][0]
    return {"id": "evt_example", "type": "approval.submitted", "tenant_id": "", "data": example}


@consumer(
    bp,
    function="start_approval_workflow",
    queue_decl=APPROVAL_STARTS,
    part=SystemPart.WORKFLOW,
    example=_submitted_example,
)
def start_approval_workflow(actor: Actor, message: Message) -> None:
    """Start the execution of a submitted request (named by the request's id)."""
    from chalicelib.services import workflow

    workflow.start(actor, message)


@consumer(
    bp,
    function="apply_workflow_message",
    queue_decl=WORKFLOW_MESSAGES,
    part=SystemPart.WORKFLOW,
)
def apply_workflow_message(actor: Actor, message: Message) -> None:
    """Keep a stage's task token and open it, or record a request's outcome or expiry."""
    from chalicelib.services import workflow

    workflow.apply(actor, message)


@schedule(bp, function="reconcile_callbacks", expression="rate(5 minutes)")
def reconcile_callbacks(actor: Actor) -> dict[str, int]:
    """Answer the task tokens whose callback is still owed."""
    from chalicelib.services import workflow

    return workflow.reconcile(actor)
