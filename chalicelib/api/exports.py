"""Exports: large results (the inventory, …) written to a file, downloaded by URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, Reply, endpoint

if TYPE_CHECKING:
    from chalicelib.domain.exports import Export

bp = Blueprint(__name__)
TAG = "Exports"
SHAPES = "chalicelib.domain.exports:"


def _queued(export: Export) -> Reply:
    return Reply(export, 202, {"Location": f"/v1/exports/{export.id}"})


@endpoint(
    bp,
    "POST",
    "/v1/exports",
    summary="Request an export (its kind's roles); the file is written asynchronously",
    tag=TAG,
    request=SHAPES + "ExportCreate",
    response=SHAPES + "Export",
    status=202,
    idempotent=True,
    errors=(404, 422),  # 404: an evidence pack of a version the tenant does not have
)
def create_export(req: ApiRequest) -> Reply:
    from chalicelib.services import exports

    claim = req.claim_for(_queued)
    return _queued(exports.request(req.actor, req.body, claim))


@endpoint(
    bp,
    "GET",
    "/v1/exports",
    summary="The tenant's exports, newest first (of the kinds the caller may read)",
    tag=TAG,
    response=SHAPES + "ExportList",
    query=(LIMIT, CURSOR),
)
def list_exports(req: ApiRequest) -> Reply:
    from chalicelib.domain.exports import ExportList
    from chalicelib.services import exports

    items, next_cursor = exports.list_exports(req.actor, req.limit, req.cursor)
    return Reply(ExportList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    "/v1/exports/{export_id}",
    summary="An export: its status, and once completed its file's digest and a download URL",
    tag=TAG,
    response=SHAPES + "Export",
)
def get_export(req: ApiRequest, export_id: str) -> Reply:
    from chalicelib.services import exports

    return Reply(exports.get(req.actor, export_id))
