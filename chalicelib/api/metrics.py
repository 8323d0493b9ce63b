"""Metrics of a version: report data points, read them back by name and time."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint
from chalicelib.domain.roles import Role

bp = Blueprint(__name__)
TAG = "Metrics"
METRICS = "/v1/models/{model_id}/versions/{number}/metrics"
# Who reports: monitors, the model's team (developers; the service checks the team), admins.
REPORTERS = {Role.MONITOR, Role.DEVELOPER, Role.ADMIN}
METRIC = "chalicelib.domain.metrics:"
FILTERS = (
    QueryParam("name", str, "Only this metric's points, by time", min_length=1),
    QueryParam("segment", str, "Only this segment's points", min_length=1),
    QueryParam(
        "from",
        str,
        "An RFC 3339 time: points observed then or later",
        min_length=1,
        format="date-time",
    ),
    QueryParam(
        "to",
        str,
        "An RFC 3339 time: points observed before it",
        min_length=1,
        format="date-time",
    ),
)


@endpoint(
    bp,
    "POST",
    METRICS,
    summary="Report a batch of metric data points of a version (1-500; the same name, time"
    " and segment again replaces a point)",
    tag=TAG,
    roles=REPORTERS,
    request=METRIC + "MetricsReport",
    response=METRIC + "MetricsStored",
    errors=(409, 413, 422),
)
def report_metrics(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.services import metrics

    return Reply(metrics.report(req.actor, model_id, number, req.body))


@endpoint(
    bp,
    "GET",
    METRICS,
    summary="A version's metric data points, oldest first: of one name, or every name in"
    " name then time order",
    tag=TAG,
    response=METRIC + "DataPointList",
    query=(LIMIT, CURSOR, *FILTERS),
)
def list_metrics(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.api.deployments import moment
    from chalicelib.domain.metrics import DataPointList
    from chalicelib.services import metrics

    query = req.query
    items, next_cursor = metrics.list_points(
        req.actor,
        model_id,
        number,
        req.limit,
        req.cursor,
        name=query.get("name"),
        segment=query.get("segment"),
        since=moment(query["from"], "from") if "from" in query else None,
        until=moment(query["to"], "to") if "to" in query else None,
    )
    return Reply(DataPointList(items=items, next_cursor=next_cursor))
