"""Examiner reports: the compliance summary and the SR 11-7 model inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint
from chalicelib.errors import FieldError, ValidationError

if TYPE_CHECKING:
    from datetime import datetime

bp = Blueprint(__name__)
TAG = "Reports"
SHAPES = "chalicelib.domain.reports:"
AS_OF = QueryParam(
    "as_of",
    str,
    "A date (2026-03-31: the end of that day, UTC) or an RFC 3339 time: the models that"
    " ran in production then, with the versions that ran",
    min_length=1,
    format="date-time",
)


def as_of(text: str, where: str) -> datetime:
    """The moment `text` names (`domain.reports.as_of_moment`); a 400 naming `where`."""
    from chalicelib.domain.reports import AS_OF_HINT, as_of_moment

    try:
        return as_of_moment(text)
    except ValueError as exc:
        raise ValidationError(
            f"{where.partition('.')[2]} {AS_OF_HINT}", errors=[FieldError(where, AS_OF_HINT)]
        ) from exc


@endpoint(
    bp,
    "GET",
    "/v1/reports/compliance",
    summary="The tenant's models counted by risk tier and status, now",
    tag=TAG,
    response=SHAPES + "ComplianceReport",
)
def compliance_report(req: ApiRequest) -> Reply:
    from chalicelib.domain.reports import ComplianceReport
    from chalicelib.services import reports

    return Reply(ComplianceReport.model_validate(reports.compliance(req.actor)))


@endpoint(
    bp,
    "GET",
    "/v1/reports/inventory",
    summary="The SR 11-7 model inventory: every model now, or what ran in production as_of",
    tag=TAG,
    response=SHAPES + "InventoryPage",
    query=(LIMIT, CURSOR, AS_OF),
)
def inventory_report(req: ApiRequest) -> Reply:
    from chalicelib.domain.reports import InventoryPage
    from chalicelib.services import reports

    moment = as_of(req.query["as_of"], "query.as_of") if "as_of" in req.query else None
    items, next_cursor = reports.inventory_page(req.actor, req.limit, req.cursor, moment)
    page = {"items": items, "next_cursor": next_cursor, "as_of": moment}
    return Reply(InventoryPage.model_validate(page))
