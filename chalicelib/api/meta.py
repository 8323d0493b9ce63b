"""Unauthenticated routes: health and the OpenAPI document."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.http import ApiRequest, Reply, endpoint
from chalicelib.domain import views

bp = Blueprint(__name__)
VERSION = "0.1.0"


@endpoint(
    bp,
    "GET",
    "/v1/health",
    summary="Liveness",
    tag="Meta",
    auth="none",
    response="chalicelib.domain.models:Health",
)
def health(req: ApiRequest) -> Reply:
    return Reply(views.HEALTH.render({"status": "ok", "version": VERSION}))


@bp.route("/v1/openapi.json", methods=["GET"])
def openapi() -> Response:
    """The OpenAPI 3.1 document, generated from the route declarations."""
    from chalicelib.api.openapi import document

    return Response(body=document(), status_code=200, headers={"Content-Type": "application/json"})
