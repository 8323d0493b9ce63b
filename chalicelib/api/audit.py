"""The audit trail: paging through events (each read audited), verifying the chain, and
the anchors an examiner checks it against."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint
from chalicelib.domain.roles import Role

bp = Blueprint(__name__)
READERS = {Role.AUDITOR, Role.ADMIN}


@endpoint(
    bp,
    "GET",
    "/v1/audit-events",
    summary="Page through the audit trail in order",
    tag="Audit",
    roles=READERS,
    response="chalicelib.domain.models:AuditEventList",
    query=(
        LIMIT,
        CURSOR,
        QueryParam("from_seq", int, "Start at this sequence number", minimum=1, maximum=10**15 - 1),
    ),
)
def list_audit_events(req: ApiRequest) -> Reply:
    from chalicelib.services import audit

    from_seq = int(req.query.get("from_seq", 1))
    return Reply(audit.list_events(req.actor, req.limit, req.cursor, from_seq))


@endpoint(
    bp,
    "GET",
    "/v1/audit/verify",
    summary="Verify the hash chain from the last checkpoint (or fully)",
    tag="Audit",
    roles=READERS,
    response="chalicelib.domain.models:AuditVerification",
    query=(QueryParam("full", str, "true: re-check from the first event", ("true", "false")),),
)
def verify_audit_chain(req: ApiRequest) -> Reply:
    from chalicelib.services import audit

    return Reply(audit.verify(req.actor, full=req.query.get("full") == "true").view())


@endpoint(
    bp,
    "GET",
    "/v1/audit/anchors",
    summary="Page through the chain heads anchored to S3 under Object Lock",
    tag="Audit",
    roles=READERS,
    response="chalicelib.domain.anchors:AuditAnchorList",
    query=(LIMIT, CURSOR),
)
def list_audit_anchors(req: ApiRequest) -> Reply:
    from chalicelib.services import anchors

    return Reply(anchors.list_anchors(req.actor, req.limit, req.cursor))
