"""Deployments of a version, and retiring a version."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint, etag
from chalicelib.domain.roles import Role
from chalicelib.errors import FieldError, ValidationError

if TYPE_CHECKING:
    from chalicelib.domain.deployments import Deployment

bp = Blueprint(__name__)
TAG = "Deployments"
VERSION = "/v1/models/{model_id}/versions/{number}"
DEPLOYMENTS = VERSION + "/deployments"
# Who records deployments: the model's team (developers; the service checks the team),
# monitors and admins.
RECORDERS = {Role.DEVELOPER, Role.MONITOR, Role.ADMIN}
DEPLOYMENT = "chalicelib.domain.deployments:"
# `Environment`'s values, written out so that declaring the route imports no pydantic
# module (tests/unit/test_route_literals.py holds them to the enum).
ENVIRONMENTS = ("development", "staging", "production")
FILTERS = (
    QueryParam("environment", str, "Deployments to this environment", ENVIRONMENTS),
    QueryParam("open", str, "true: only those still open; false: only ended", ("true", "false")),
    QueryParam(
        "at",
        str,
        "An RFC 3339 time: the deployments in force then (valid from it or earlier, until"
        " after it or still open)",
        min_length=1,
        format="date-time",
    ),
)
# RFC 3339 section 5.6 date-time (the offset is required; `T` or a space between).
_RFC3339 = re.compile(
    r"(?P<minute>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}):(?P<second>\d{2})(?P<fraction>\.\d+)?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)


def moment(text: str, parameter: str = "at") -> datetime:
    """An RFC 3339 time, in UTC; 400 naming `query.<parameter>` for anything else.
    Fractions past microseconds are cut, a leap second counts as the last microsecond
    before it, and a time that falls outside years 1-9999 in UTC as the first or last one
    representable (before or after anything stored)."""
    match = _RFC3339.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        second, fraction = match["second"], (match["fraction"] or "")[:7]
        if second == "60":
            second, fraction = "59", ".999999"
        normal = f"{match['minute']}:{second}{fraction}{match['offset']}"
        parsed = datetime.fromisoformat(normal.upper().replace(" ", "T"))
    except ValueError as exc:
        raise ValidationError(
            "the query parameters are not valid",
            errors=[
                FieldError(
                    f"query.{parameter}", "must be an RFC 3339 time, like 2026-01-31T12:00:00Z"
                )
            ],
        ) from exc
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if parsed.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


def _created(deployment: Deployment) -> Reply:
    location = (
        f"/v1/models/{deployment.model_id}/versions/{deployment.version_number}"
        f"/deployments/{deployment.id}"
    )
    return Reply(deployment, 201, {"Location": location})


@endpoint(
    bp,
    "POST",
    DEPLOYMENTS,
    summary="Record that a version runs in an environment (production: approved only)",
    tag=TAG,
    roles=RECORDERS,
    request=DEPLOYMENT + "DeploymentCreate",
    response=DEPLOYMENT + "Deployment",
    status=201,
    idempotent=True,
    errors=(409, 422),
)
def create_deployment(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.services import deployments

    claim = req.claim_for(_created)
    return _created(deployments.deploy(req.actor, model_id, number, req.body, claim))


@endpoint(
    bp,
    "GET",
    DEPLOYMENTS,
    summary="A version's deployments, oldest first: its history, filterable by time",
    tag=TAG,
    response=DEPLOYMENT + "DeploymentList",
    query=(LIMIT, CURSOR, *FILTERS),
)
def list_deployments(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.domain.deployments import DeploymentList, Environment
    from chalicelib.services import deployments

    query = req.query
    items, next_cursor = deployments.list_deployments(
        req.actor,
        model_id,
        number,
        req.limit,
        req.cursor,
        environment=Environment(query["environment"]) if "environment" in query else None,
        open_only=query["open"] == "true" if "open" in query else None,
        at=moment(query["at"]) if "at" in query else None,
    )
    return Reply(DeploymentList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    DEPLOYMENTS + "/{deployment_id}",
    summary="A deployment",
    tag=TAG,
    response=DEPLOYMENT + "Deployment",
)
def get_deployment(req: ApiRequest, model_id: str, number: str, deployment_id: str) -> Reply:
    from chalicelib.services import deployments

    return Reply(deployments.get_deployment(req.actor, model_id, number, deployment_id))


@endpoint(
    bp,
    "DELETE",
    DEPLOYMENTS + "/{deployment_id}",
    summary="End a deployment: its valid-until is now, the history keeps it (again: 204)",
    tag=TAG,
    roles=RECORDERS,
    status=204,
)
def end_deployment(req: ApiRequest, model_id: str, number: str, deployment_id: str) -> Reply:
    from chalicelib.services import deployments

    deployments.end_deployment(req.actor, model_id, number, deployment_id)
    return Reply(None, 204)


@endpoint(
    bp,
    "POST",
    VERSION + "/retire",
    summary="Retire a version once nothing runs it in production",
    tag=TAG,
    roles={Role.DEVELOPER, Role.ADMIN},
    response="chalicelib.domain.models:Version",
    errors=(409,),
)
def retire_version(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.services import retirement

    version = retirement.retire(req.actor, model_id, number)
    return Reply(version, 200, {"ETag": etag(version.revision)})
