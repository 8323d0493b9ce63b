"""Findings: reading them, raising one, accepting its risk, resolving it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint, etag
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from chalicelib.domain.findings import Finding

bp = Blueprint(__name__)
TAG = "Findings"
FINDINGS = "/v1/findings"
FINDING = FINDINGS + "/{finding_id}"
SHAPES = "chalicelib.domain.findings:"
# The values of `FindingStatus`, `Severity` and the rule catalog's ids, written out so that
# declaring the route imports no pydantic module (tests/unit/test_route_literals.py holds
# them to the domain).
STATUSES = ("open", "resolved", "accepted")
SEVERITIES = ("critical", "high", "medium", "low")
RULE_IDS = (
    "deployment.unapproved",
    "approval.expired",
    "revalidation.overdue",
    "revalidation.due_soon",
    "documentation.incomplete",
    "artifact.changed",
    "metric.threshold",
    "metrics.stale",
    "approval.stuck",
    "owner.inactive",
    "finding.overdue",
)
FILTERS = (
    QueryParam("status", str, "Findings in this status", STATUSES),
    QueryParam("severity", str, "Findings of this severity", SEVERITIES),
    QueryParam("rule", str, "Findings a scan rule raised", RULE_IDS),
    QueryParam("model_id", str, "Findings on this model or its versions", min_length=1),
)


def _reply(found: Finding, status: int = 200) -> Reply:
    headers = {"ETag": etag(found.revision)}
    if status == 201:
        headers["Location"] = f"{FINDINGS}/{found.id}"
    return Reply(found, status, headers)


def _created(found: Finding) -> Reply:
    return _reply(found, 201)


@endpoint(
    bp,
    "GET",
    FINDINGS,
    summary="The tenant's findings, filterable by status, severity, rule and model",
    tag=TAG,
    response=SHAPES + "FindingList",
    query=(LIMIT, CURSOR, *FILTERS),
)
def list_findings(req: ApiRequest) -> Reply:
    from chalicelib.domain.findings import FindingList
    from chalicelib.services import findings

    query = req.query
    items, next_cursor = findings.list_findings(
        req.actor,
        req.limit,
        req.cursor,
        status=query.get("status"),
        severity=query.get("severity"),
        rule=query.get("rule"),
        model_id=query.get("model_id"),
    )
    return Reply(FindingList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    FINDING,
    summary="A finding",
    tag=TAG,
    response=SHAPES + "Finding",
)
def get_finding(req: ApiRequest, finding_id: str) -> Reply:
    from chalicelib.services import findings

    return _reply(findings.get_finding(req.actor, finding_id))


@endpoint(
    bp,
    "POST",
    FINDINGS,
    summary="Raise a finding on a model or one of its versions (validators)",
    tag=TAG,
    roles={Role.VALIDATOR},
    request=SHAPES + "FindingCreate",
    response=SHAPES + "Finding",
    status=201,
    idempotent=True,
    errors=(404,),  # the model or version the body names is not the tenant's
)
def raise_finding(req: ApiRequest) -> Reply:
    from chalicelib.services import findings

    claim = req.claim_for(_created)
    return _created(findings.raise_finding(req.actor, req.body, claim))


@endpoint(
    bp,
    "POST",
    FINDING + "/accept",
    summary="Accept an open finding's risk until an expiry (an approver outside the team)",
    tag=TAG,
    roles={Role.APPROVER},
    request=SHAPES + "FindingAcceptance",
    response=SHAPES + "Finding",
    errors=(409, 422),
)
def accept_finding(req: ApiRequest, finding_id: str) -> Reply:
    from chalicelib.services import findings

    return _reply(findings.accept_finding(req.actor, finding_id, req.body))


@endpoint(
    bp,
    "POST",
    FINDING + "/resolve",
    summary="Resolve a finding with a note (a validator outside the team)",
    tag=TAG,
    roles={Role.VALIDATOR},
    request=SHAPES + "FindingResolution",
    response=SHAPES + "Finding",
    errors=(409,),
)
def resolve_finding(req: ApiRequest, finding_id: str) -> Reply:
    from chalicelib.services import findings

    return _reply(findings.resolve_finding(req.actor, finding_id, req.body))
