"""The approval workflow on Step Functions: starting executions, applying what the state
machine sends, answering its task tokens.

A submitted request is announced (`approval.submitted`); the fan-out hands that event to
`start`, which starts one execution named by the request's id (a redelivery finds it
exists) with the request's stages and every duration in its input. The state machine
(`chalicelib/workflows/approval.asl.json`) runs the stages in order. For each it sends the
stage's task token to the WorkflowMessages queue (`stage.opened`); `apply` keeps the token
as an operational record and opens the stage (audited, `approval.requested`). At the
stage's deadline the machine sends a new token (`stage.escalated`) and waits once more;
`apply` escalates the stage (audited, `approval.escalated`). Both events name who may
decide the stage now (and the escalation contacts), read from the tenant's principals, so
a chat or ticketing bridge can tell them; neither carries a token. A decision that closes a
stage answers its token (`complete_stage`, from `services.decisions`); the machine then
opens the next stage, or ends with `request.decided` (approve, or reject at the first
rejected stage) or `request.expired`, which `services.outcomes` applies to the request
and its version. The machine never writes domain state, and task tokens never leave the
server.

A token whose answer is owed but was not sent (a failed SendTaskSuccess) is answered by
the `reconcile_callbacks` schedule; a token the workflow has closed (TaskTimedOut,
InvalidToken) counts as answered.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, TypeVar

from botocore.exceptions import ClientError

from chalicelib import observability
from chalicelib.bootstrap import client
from chalicelib.config import settings
from chalicelib.domain import duties, events
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import (
    CANCEL,
    DECIDERS_LISTED,
    ApprovalRequest,
    ApprovalStage,
    Outcome,
    Person,
    RequestStatus,
    StageEscalated,
    StageNotice,
    StageOpened,
    StageStatus,
)
from chalicelib.domain.models import Model, Principal, PrincipalStatus
from chalicelib.entrypoints import Message
from chalicelib.errors import NotFoundError
from chalicelib.services import outcomes
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.aws_errors import is_transient, unavailable
from chalicelib.store.operational import owed_callbacks
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import AlreadyAppliedError, UnitOfWork

RECONCILE_GRACE = timedelta(seconds=30)  # a callback younger than this may be in flight
TOKEN_KEPT = timedelta(days=400)  # longer than any request may wait (a year at most)
CLOSED_TOKEN = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
WORKFLOW = "system:workflow"  # who the request's history names for the workflow's steps
# An opened or escalated stage names its deciders from the tenant's principals, read a page
# at a time: at most this many pages of this many, else the event says its list may be short.
ROSTER_PAGE = 1_000
ROSTER_PAGES = 10

N = TypeVar("N", bound=StageNotice)


def machine_input(tenant_id: str, request: ApprovalRequest) -> dict[str, object]:
    """The execution's input: the request, and each stage's waits (from its policy)."""
    return {
        "tenant_id": tenant_id,
        "request_id": request.id,
        "stages": [
            {
                "index": s.index,
                "timeout_seconds": s.deadline_seconds,
                "escalation_seconds": s.escalation_seconds,
            }
            for s in request.stages
        ],
    }


def start(actor: Actor, message: Message) -> None:
    """Consumer of `approval.submitted`: start the request's execution, named by its id."""
    request = ApprovalRequest.model_validate(message.body["data"])
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=settings().approval_state_machine_arn,
            name=request.id,
            input=json.dumps(machine_input(str(message.tenant_id), request)),
        )
    except ClientError as exc:
        # A redelivered event: the execution of this request exists already.
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise


def apply(actor: Actor, message: Message) -> None:
    """Consumer of the state machine's messages (see the module docstring); each is
    applied once however often it comes."""
    body = message.body
    store = for_actor(actor)  # the system actor acts in the tenant the message names
    kind, request_id = body["kind"], body["request_id"]
    try:
        if kind == "stage.opened":
            _open(store, actor, request_id, int(body["stage"]), body["task_token"])
        elif kind == "stage.escalated":
            _escalate(store, actor, request_id, int(body["stage"]), body["task_token"])
        elif kind == "request.decided":
            outcomes.decided(store, actor, request_id, Outcome(body["outcome"]))
        elif kind == "request.expired":
            outcomes.expired(store, actor, request_id)
        else:
            raise ValueError(f"unknown workflow message kind {kind!r}")
    except AlreadyAppliedError:
        return


def read_request(store: TenantStore, request_id: str) -> ApprovalRequest:
    item = store.approvals.get(request_id)
    if item is None:
        raise NotFoundError(f"no approval request {request_id}")
    return to_model(ApprovalRequest, item)


def with_stage(
    request: ApprovalRequest,
    stage: ApprovalStage,
    at: str,
    action: str,
    status: RequestStatus | None = None,
) -> ApprovalRequest:
    """The request with `stage` in place (and `status`), its history told `action`."""
    entry = {"at": at, "action": action, "by": WORKFLOW, "stage": stage.index}
    data = public(request)
    return ApprovalRequest.model_validate(
        {
            **data,
            "stages": [public(stage if s.index == stage.index else s) for s in request.stages],
            "status": status or request.status,
            "history": [*data["history"], entry],
            "updated_at": at,
            "revision": request.revision + 1,
        }
    )


def _in(at: str, seconds: int) -> str:
    moment = datetime.fromisoformat(at) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _open(store: TenantStore, actor: Actor, request_id: str, index: int, token: str) -> None:
    at = timestamp()
    # The token first: if the audited change below fails, the message comes back and
    # finds it kept; if it were second, an opened stage could have no token to answer.
    store.operational.put_task_token(request_id, index, token, at, TOKEN_KEPT)
    request = read_request(store, request_id)
    stage = request.stages[index]
    if request.status is RequestStatus.CANCELLED:  # withdrawn before this stage opened
        answer(store, request_id, index, token, CANCEL)
        return
    if stage.status is not StageStatus.WAITING or request.status not in (
        RequestStatus.PENDING,
        RequestStatus.IN_REVIEW,
    ):
        return  # opened before: a redelivered message
    opened = ApprovalStage.model_validate(
        {
            **public(stage),
            "status": StageStatus.OPEN,
            "opened_at": at,
            "deadline": _in(at, stage.deadline_seconds),
        }
    )
    updated = with_stage(request, opened, at, "stage opened", RequestStatus.IN_REVIEW)
    unit = UnitOfWork().once(store.keys.processed("workflow", f"{request_id}#{index}#opened"))
    unit.add("request", store.approvals.put_replace(public(updated), request.revision))
    unit.record(
        "approval.stage_opened",
        "approval_request",
        request_id,
        before={"status": request.status, "stages": [public(stage)]},
        after={"status": updated.status, "stages": [public(opened)]},
    )
    announced = _notice(StageOpened, store, _roster(store), updated, opened)
    store.commit(actor, unit.emit(events.APPROVAL_REQUESTED.of(announced)))


def _escalate(store: TenantStore, actor: Actor, request_id: str, index: int, token: str) -> None:
    at = timestamp()
    # The escalation's token replaces the opening's, which the workflow has closed.
    store.operational.put_task_token(request_id, index, token, at, TOKEN_KEPT, attempt=1)
    request = read_request(store, request_id)
    stage = request.stages[index]
    if request.status is RequestStatus.CANCELLED:
        answer(store, request_id, index, token, CANCEL)
        return
    if stage.status is StageStatus.CLOSED and stage.outcome is not None:
        # Decided just as its deadline passed: its answer reached the closed token; this
        # one gets it instead.
        answer(store, request_id, index, token, stage.outcome.value)
        return
    if stage.status is not StageStatus.OPEN or stage.escalated_at is not None:
        return  # escalated before: a redelivered message
    escalated = ApprovalStage.model_validate(
        {**public(stage), "escalated_at": at, "deadline": _in(at, stage.escalation_seconds)}
    )
    updated = with_stage(request, escalated, at, "stage escalated")
    unit = UnitOfWork().once(store.keys.processed("workflow", f"{request_id}#{index}#escalated"))
    unit.add("request", store.approvals.put_replace(public(updated), request.revision))
    unit.record(
        "approval.escalated",
        "approval_request",
        request_id,
        before={"stages": [public(stage)]},
        after={"stages": [public(escalated)]},
    )
    roster = _roster(store)
    announced = _notice(
        StageEscalated,
        store,
        roster,
        updated,
        escalated,
        escalation_contacts=_contacts(store, roster, request.escalation_contact_ids),
        escalation_contact_ids=request.escalation_contact_ids,
    )
    store.commit(actor, unit.emit(events.APPROVAL_ESCALATED.of(announced)))


# --- who is told: the stage's deciders, the escalation contacts ------------------------


class Roster(NamedTuple):
    """The tenant's active principals by id, and whether the listing read all of them."""

    active: dict[str, Principal]
    complete: bool


def _roster(store: TenantStore) -> Roster:
    """One bounded Query page loop over the tenant's principals (this runs in the workflow's
    consumer, never on a request's path)."""
    active: dict[str, Principal] = {}
    start = None
    for _ in range(ROSTER_PAGES):
        items, start = store.principals.list_page(ROSTER_PAGE, start)
        for principal in (to_model(Principal, i) for i in items):
            if principal.status is PrincipalStatus.ACTIVE:
                active[principal.id] = principal
        if not start:
            return Roster(active, True)
    return Roster(active, False)


def _person(principal: Principal) -> Person:
    return Person(id=principal.id, name=principal.name, email=principal.email)


def _notice(
    kind: type[N],
    store: TenantStore,
    roster: Roster,
    request: ApprovalRequest,
    stage: ApprovalStage,
    **more: object,
) -> N:
    """What `approval.requested` and `approval.escalated` say of a stage (and `more`): the
    request, the stage, who may decide it now (`duties.may_decide`, against the model's
    team as it is now, as a decision is checked) and where the request is."""
    item = store.inventory.get_model(request.model_id)
    if item is None:  # a request's model is never deleted; say so rather than guess
        raise NotFoundError(f"no model {request.model_id}")
    model = to_model(Model, item)
    facts = duties.StageFacts(
        stage.index,
        stage.role,
        request.submitted_by,
        duties.team(model.owner_id, model.developer_ids),
        [*model.past_team_ids, *request.ineligible_ids],
        request.deciders(),
    )
    eligible = sorted(
        (p for p in roster.active.values() if duties.may_decide(p.id, p.roles, facts)),
        key=lambda p: (p.name.casefold(), p.id),
    )
    link = f"/v1/approval-requests/{request.id}"
    base = settings().public_base_url
    return kind.model_validate(
        {
            "request_id": request.id,
            "model_id": request.model_id,
            "version_number": request.version_number,
            "stage": stage,
            "deciders": [_person(p) for p in eligible[:DECIDERS_LISTED]],
            "deciders_truncated": len(eligible) > DECIDERS_LISTED or not roster.complete,
            "link": link,
            "url": f"{base}{link}" if base else None,
            **more,
        }
    )


def _contacts(store: TenantStore, roster: Roster, contact_ids: list[str]) -> list[Person]:
    """The escalation contacts who are active principals, in the policy's order; read
    apart (one BatchGetItem) only those a cut-short roster did not reach."""
    found = dict(roster.active)
    missing = [c for c in contact_ids if c not in found]
    if missing and not roster.complete:
        for principal in (to_model(Principal, i) for i in store.principals.get_many(missing)):
            if principal.status is PrincipalStatus.ACTIVE:
                found[principal.id] = principal
    return [_person(found[c]) for c in contact_ids if c in found]


# --- answering task tokens ----------------------------------------------------------------


def answer(store: TenantStore, request_id: str, index: int, token: str, outcome: str) -> bool:
    """Owe `token` the answer `outcome`, then send it (the reconciler retries it if the
    send fails); False when the workflow had closed the token."""
    store.operational.owe_callback(request_id, index, outcome, timestamp())
    return _send(store, request_id, index, token, outcome)


def complete_stage(store: TenantStore, request_id: str, index: int, outcome: str) -> bool:
    """Send the closed stage's `outcome` to the workflow, whose callback the closing
    decision owed in its own transaction; False when the workflow had closed the token
    already (its deadline passed: the escalation's token gets the answer instead)."""
    record = store.operational.get_task_token(request_id, index)
    if record is None:
        return False
    return _send(store, request_id, index, str(record["task_token"]), outcome)


def call_back(store: TenantStore, request_id: str, index: int, outcome: str) -> None:
    """Send a closed stage's `outcome` now, whose callback the closing change owed in its
    own transaction: when this fails the reconciler sends it, and the change stands."""
    try:
        complete_stage(store, request_id, index, outcome)
    except Exception as exc:
        observability.log_deferred("stage callback", f"{request_id}#{index}", exc)


def _send(store: TenantStore, request_id: str, index: int, token: str, outcome: str) -> bool:
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
        store.operational.callback_done(request_id, index, token, timestamp(), str(code))
        return False
    store.operational.callback_done(request_id, index, token, timestamp(), "sent")
    return True


def reconcile(actor: Actor, grace: timedelta = RECONCILE_GRACE) -> dict[str, int]:
    """Schedule: answer every task token whose callback is still owed after `grace` (its
    first answer was lost, or failed); a token the workflow has closed counts as answered."""
    counts = {"sent": 0, "closed": 0}
    older_than = (datetime.now(UTC) - grace).isoformat(timespec="milliseconds")
    for owed in owed_callbacks(older_than.replace("+00:00", "Z")):
        store = for_actor(actor.in_tenant(str(owed["tenant_id"])))
        request_id, index = owed["request_id"], int(owed["stage"])
        sent = _send(store, request_id, index, owed["task_token"], owed["owed_outcome"])
        counts["sent" if sent else "closed"] += 1
    return counts
