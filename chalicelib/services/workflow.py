"""The approval workflow's first piece, on Step Functions.

A submitted request is announced (`approval.submitted`) in the unit of work that creates
it; the fan-out hands that event to `start`, which starts one execution named by the
request's id (a retried start finds the same execution). The state machine
(`chalicelib/workflows/approval.asl.json`) sends each stage's task token to the
WorkflowMessages queue; `apply` keeps it as an operational record and opens the stage
(audited, `approval.requested`). `complete_stage` answers the token with the stage's
outcome; the machine then sends `request.decided` (or, past the deadline, `request.expired`)
and `apply` records that too. The machine never writes domain state, and task tokens never
leave the server.

The approvals capability adds the routes, the policy's stages, decisions and quorum, and
the version's transitions on top of this.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from chalicelib.bootstrap import client
from chalicelib.config import settings
from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import (
    ApprovalRequest,
    ApprovalStage,
    Outcome,
    RequestStatus,
    StageOpened,
    StageStatus,
)
from chalicelib.domain.ids import new_id
from chalicelib.entrypoints import Message
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.aws_errors import is_transient, unavailable
from chalicelib.store.operational import owed_callbacks
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import AlreadyAppliedError, UnitOfWork

RECONCILE_GRACE = timedelta(seconds=30)  # a callback younger than this may be in flight
TOKEN_KEPT = timedelta(days=400)  # longer than any stage may wait (a year, plus escalation)
CLOSED_TOKEN = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")


def submit(
    actor: Actor, model_id: str, version_number: int, stages: list[ApprovalStage]
) -> ApprovalRequest:
    """Open an approval request with `stages` and announce it; the workflow starts from
    the announcement (no Step Functions call on the request path)."""
    store = for_actor(actor)
    at = timestamp()
    request = ApprovalRequest.model_validate(
        {
            "id": new_id("approval_request"),
            "model_id": model_id,
            "version_number": version_number,
            "status": RequestStatus.PENDING,
            "stages": [public(s) for s in stages],
            "submitted_by": actor.principal_id,
            "created_at": at,
            "updated_at": at,
            "revision": 1,
        }
    )
    unit = UnitOfWork().add("request", store.approvals.put_new(public(request)))
    unit.record("approval.submitted", "approval_request", request.id, after=public(request))
    store.commit(actor, unit.emit(events.APPROVAL_SUBMITTED.of(request)))
    return request


def get_request(actor: Actor, request_id: str) -> ApprovalRequest:
    item = for_actor(actor).approvals.get(request_id)
    if item is None:
        raise NotFoundError(f"no approval request {request_id}")
    return to_model(ApprovalRequest, item)


def start(actor: Actor, message: Message) -> None:
    """Consumer of `approval.submitted`: start the request's execution, named by its id."""
    request = ApprovalRequest.model_validate(message.body["data"])
    tenant_id = str(message.tenant_id)
    machine_input = {
        "tenant_id": tenant_id,
        "request_id": request.id,
        "stage": 0,
        "stage_timeout_seconds": request.stages[0].timeout_seconds,
    }
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=settings().approval_state_machine_arn,
            name=request.id,
            input=json.dumps(machine_input),
        )
    except ClientError as exc:
        # A redelivered event: the execution of this request exists already.
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise


def apply(actor: Actor, message: Message) -> None:
    """Consumer of the state machine's messages: keep a stage's token and open the stage,
    or record the request's outcome or expiry. Each message is applied once."""
    body = message.body
    store = for_actor(actor)  # the system actor acts in the tenant the message names
    kind, request_id, stage = body["kind"], body["request_id"], int(body["stage"])
    try:
        if kind == "stage.opened":
            _open_stage(store, actor, request_id, stage, body["task_token"])
        elif kind == "request.decided":
            _close(store, actor, request_id, stage, Outcome(body["outcome"]))
        elif kind == "request.expired":
            _close(store, actor, request_id, stage, None)
        else:
            raise ValueError(f"unknown workflow message kind {kind!r}")
    except AlreadyAppliedError:
        return


def _request(store: TenantStore, request_id: str) -> ApprovalRequest:
    item = store.approvals.get(request_id)
    if item is None:
        raise NotFoundError(f"no approval request {request_id}")
    return to_model(ApprovalRequest, item)


def _open_stage(store: TenantStore, actor: Actor, request_id: str, index: int, token: str) -> None:
    at = timestamp()
    # The token first: if the audited change below fails, the message comes back and
    # finds it kept; if it were second, an opened stage could have no token to answer.
    store.operational.put_task_token(request_id, index, token, at, TOKEN_KEPT)
    request = _request(store, request_id)
    stage = request.stages[index]
    deadline = datetime.fromisoformat(at) + timedelta(seconds=stage.timeout_seconds)
    opened = ApprovalStage.model_validate(
        {**public(stage), "status": StageStatus.OPEN, "opened_at": at, "deadline": deadline}
    )
    updated = _with_stage(request, opened, RequestStatus.IN_REVIEW, at)
    unit = UnitOfWork().once(store.keys.processed("workflow", f"{request_id}#{index}#opened"))
    unit.add("request", store.approvals.put_replace(public(updated), request.revision))
    unit.record(
        "approval.stage_opened",
        "approval_request",
        request_id,
        before={"stages": [public(stage)]},
        after={"stages": [public(opened)]},
    )
    announced = StageOpened(
        request_id=request_id,
        model_id=request.model_id,
        version_number=request.version_number,
        stage=opened,
        link=f"/v1/approval-requests/{request_id}",
    )
    store.commit(actor, unit.emit(events.APPROVAL_REQUESTED.of(announced)))


def _close(
    store: TenantStore, actor: Actor, request_id: str, index: int, outcome: Outcome | None
) -> None:
    at = timestamp()
    request = _request(store, request_id)
    stage = request.stages[index]
    if outcome is None:
        closed = stage.model_copy(update={"status": StageStatus.EXPIRED})
        status, kind = RequestStatus.EXPIRED, events.APPROVAL_EXPIRED
    else:
        closed = stage.model_copy(update={"status": StageStatus.CLOSED, "outcome": outcome})
        approved = outcome is Outcome.APPROVE
        status = RequestStatus.APPROVED if approved else RequestStatus.REJECTED
        kind = events.APPROVAL_DECIDED
    updated = _with_stage(request, closed, status, at)
    unit = UnitOfWork().once(store.keys.processed("workflow", f"{request_id}#{index}#closed"))
    unit.add("request", store.approvals.put_replace(public(updated), request.revision))
    unit.record(
        kind.name,
        "approval_request",
        request_id,
        before={"status": request.status, "stages": [public(stage)]},
        after={"status": status, "stages": [public(closed)]},
    )
    store.commit(actor, unit.emit(kind.of(updated)))


def _with_stage(
    request: ApprovalRequest, stage: ApprovalStage, status: RequestStatus, at: str
) -> ApprovalRequest:
    stages = [stage if s.index == stage.index else s for s in request.stages]
    return ApprovalRequest.model_validate(
        {
            **public(request),
            "stages": [public(s) for s in stages],
            "status": status,
            "updated_at": at,
            "revision": request.revision + 1,
        }
    )


def complete_stage(actor: Actor, request_id: str, index: int, outcome: Outcome) -> bool:
    """Answer an open stage's task token with its outcome; False when the workflow had
    already closed the stage (its deadline passed, or it was answered before).

    The token is marked as owed first, so the reconciler retries a callback whose answer
    was lost; the approvals capability calls this once a decision closes the stage."""
    store = for_actor(actor)
    record = store.operational.get_task_token(request_id, index)
    if record is None:
        raise ConflictError(f"stage {index} of {request_id} is not open")
    store.operational.owe_callback(request_id, index, outcome.value, timestamp())
    return _send_outcome(store, request_id, index, record["task_token"], outcome.value)


def _send_outcome(
    store: TenantStore, request_id: str, index: int, token: str, outcome: str
) -> bool:
    try:
        client("stepfunctions").send_task_success(
            taskToken=token, output=json.dumps({"outcome": outcome})
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code not in CLOSED_TOKEN:
            if is_transient(exc):
                raise unavailable(exc) from exc
            raise
        store.operational.callback_done(request_id, index, timestamp(), code)
        return False
    store.operational.callback_done(request_id, index, timestamp(), "sent")
    return True


def reconcile(actor: Actor, grace: timedelta = RECONCILE_GRACE) -> dict[str, int]:
    """Schedule: answer every task token whose callback is still owed after `grace` (its
    first answer was lost, or failed); a token the workflow has closed counts as answered."""
    counts = {"sent": 0, "closed": 0}
    older_than = (datetime.now(UTC) - grace).isoformat(timespec="milliseconds")
    for owed in owed_callbacks(older_than.replace("+00:00", "Z")):
        store = for_actor(actor.in_tenant(str(owed["tenant_id"])))
        request_id, index = owed["request_id"], int(owed["stage"])
        sent = _send_outcome(store, request_id, index, owed["task_token"], owed["owed_outcome"])
        counts["sent" if sent else "closed"] += 1
    return counts
