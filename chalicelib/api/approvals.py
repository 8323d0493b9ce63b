"""Approval requests: submit a version, read requests and the inbox, decide a stage."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint, etag
from chalicelib.domain.approvals import (
    ApprovalRequest,
    ApprovalRequestList,
    DecisionCreate,
    RequestStatus,
    SubmissionCreate,
)
from chalicelib.domain.artifacts import ArtifactCreate
from chalicelib.domain.evidence import CommentCreate, EvidenceRegistered, EvidenceView
from chalicelib.domain.models import Version
from chalicelib.domain.roles import Role
from chalicelib.services import approvals

bp = Blueprint(__name__)
TAG = "Approvals"
REQUESTS = "/v1/approval-requests"
FILTERS = (
    QueryParam(
        "actionable",
        str,
        "true: only requests whose open stage the caller may decide (the inbox)",
        ("true", "false"),
    ),
    QueryParam("status", str, "Requests in this status", tuple(RequestStatus)),
    QueryParam("model_id", str, "Requests of this model", min_length=1),
)


def _reply(request: ApprovalRequest, status: int = 200) -> Reply:
    headers = {"ETag": etag(request.revision)}
    if status == 201:
        headers["Location"] = f"{REQUESTS}/{request.id}"
    return Reply(request, status, headers)


def _created(request: ApprovalRequest) -> Reply:
    return _reply(request, 201)


@endpoint(
    bp,
    "POST",
    "/v1/models/{model_id}/versions/{number}/approval-requests",
    summary="Submit a draft version for approval: its workflow starts",
    tag=TAG,
    roles={Role.DEVELOPER},
    request=SubmissionCreate,
    response=ApprovalRequest,
    status=201,
    idempotent=True,
    errors=(409, 422),
)
def submit_version(req: ApiRequest, model_id: str, number: str) -> Reply:
    claim = req.claim_for(_created)
    return _created(approvals.submit(req.actor, model_id, number, req.body, claim))


@endpoint(
    bp,
    "GET",
    REQUESTS,
    summary="List approval requests, newest first; actionable=true: the caller's inbox",
    tag=TAG,
    response=ApprovalRequestList,
    query=(LIMIT, CURSOR, *FILTERS),
)
def list_approval_requests(req: ApiRequest) -> Reply:
    items, next_cursor = approvals.list_requests(req.actor, req.limit, req.cursor, req.query)
    return Reply(ApprovalRequestList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    REQUESTS + "/{request_id}",
    summary="An approval request: stages, quorum, decisions, deadlines and history",
    tag=TAG,
    response=ApprovalRequest,
)
def get_approval_request(req: ApiRequest, request_id: str) -> Reply:
    return _reply(approvals.get_request(req.actor, request_id))


@endpoint(
    bp,
    "POST",
    REQUESTS + "/{request_id}/decisions",
    summary="Approve or reject the open stage (its role, outside the model's team)",
    tag=TAG,
    roles={Role.VALIDATOR, Role.APPROVER},
    request=DecisionCreate,
    response=ApprovalRequest,
    status=201,
    idempotent=True,
    errors=(409, 422),
)
def decide(req: ApiRequest, request_id: str) -> Reply:
    from chalicelib.services import decisions

    claim = req.claim_for(_created)
    return _created(decisions.decide(req.actor, request_id, req.body, claim))


@endpoint(
    bp,
    "POST",
    REQUESTS + "/{request_id}/cancel",
    summary="Withdraw a request before it is decided (its submitter): the version is a draft",
    tag=TAG,
    roles={Role.DEVELOPER},
    response=ApprovalRequest,
    errors=(409,),
)
def cancel_approval_request(req: ApiRequest, request_id: str) -> Reply:
    from chalicelib.services import withdrawals

    return _reply(withdrawals.cancel(req.actor, request_id))


@endpoint(
    bp,
    "POST",
    "/v1/models/{model_id}/versions/{number}/reopen",
    summary="Make a rejected version a draft again, to fix and submit anew (its team)",
    tag=TAG,
    roles={Role.DEVELOPER},
    response=Version,
    errors=(409,),
)
def reopen_version(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.services import withdrawals

    version = withdrawals.reopen(req.actor, model_id, number)
    return Reply(version, 200, {"ETag": etag(version.revision)})


@endpoint(
    bp,
    "POST",
    REQUESTS + "/{request_id}/evidence",
    summary="Add an evidence file to the open stage (who may decide it); get its upload URL",
    tag=TAG,
    roles={Role.VALIDATOR, Role.APPROVER},
    request=ArtifactCreate,
    response=EvidenceRegistered,
    status=201,
    errors=(409, 413),
)
def add_evidence(req: ApiRequest, request_id: str) -> Reply:
    # No Idempotency-Key: the answer's URL is never stored, and adding a pending file
    # again replaces it, so a retry is harmless.
    from chalicelib.services import evidence

    registered = evidence.register(req.actor, request_id, req.body)
    return Reply(registered, 201, {"Location": f"{REQUESTS}/{request_id}"})


@endpoint(
    bp,
    "POST",
    REQUESTS + "/{request_id}/evidence/{name}/complete",
    summary="The evidence is uploaded: Custos reads the bytes and verifies size and SHA-256",
    tag=TAG,
    roles={Role.VALIDATOR, Role.APPROVER},
    response=EvidenceView,
    also=(202,),
    errors=(409, 422),
)
def complete_evidence(req: ApiRequest, request_id: str, name: str) -> Reply:
    from chalicelib.services import evidence

    view, later = evidence.complete(req.actor, request_id, name)
    return Reply(view, 202 if later else 200)


@endpoint(
    bp,
    "POST",
    REQUESTS + "/{request_id}/comments",
    summary="Comment on an open request (the roles that decide it, outside the model's team)",
    tag=TAG,
    roles={Role.VALIDATOR, Role.APPROVER},
    request=CommentCreate,
    response=ApprovalRequest,
    status=201,
    idempotent=True,
    errors=(409,),
)
def comment_on_request(req: ApiRequest, request_id: str) -> Reply:
    from chalicelib.services import evidence

    claim = req.claim_for(_created)
    return _created(evidence.comment(req.actor, request_id, req.body, claim))
