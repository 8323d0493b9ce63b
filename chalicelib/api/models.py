"""The model inventory: models and versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint, etag
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from chalicelib.domain.models import Model, Version

bp = Blueprint(__name__)
TAG = "Models"
FILTERS = (
    QueryParam("risk_tier", int, "1 high, 2 medium, 3 low", minimum=1, maximum=3),
    QueryParam(
        "status", str, "Model status", ("in_development", "approved", "in_production", "retired")
    ),
    QueryParam("owner", str, "Owner principal id"),
    QueryParam("tag", str, "Models carrying this tag"),
)


def _model_reply(model: Model, status: int = 200) -> Reply:
    headers = {"ETag": etag(model.revision)}
    if status == 201:
        headers["Location"] = f"/v1/models/{model.id}"
    return Reply(model, status, headers)


def _model_created(model: Model) -> Reply:
    return _model_reply(model, 201)


def _version_reply(version: Version, status: int = 200) -> Reply:
    headers = {"ETag": etag(version.revision)}
    if status == 201:
        headers["Location"] = f"/v1/models/{version.model_id}/versions/{version.number}"
    return Reply(version, status, headers)


def _version_created(version: Version) -> Reply:
    return _version_reply(version, 201)


@endpoint(
    bp,
    "POST",
    "/v1/models",
    summary="Register a model",
    tag=TAG,
    roles={Role.DEVELOPER},
    request="chalicelib.domain.models:ModelCreate",
    response="chalicelib.domain.models:Model",
    status=201,
    idempotent=True,
    errors=(422,),
)
def create_model(req: ApiRequest) -> Reply:
    from chalicelib.services import inventory

    claim = req.claim_for(_model_created)
    return _model_created(inventory.create_model(req.actor, req.body, claim))


@endpoint(
    bp,
    "GET",
    "/v1/models",
    summary="List the inventory",
    tag=TAG,
    response="chalicelib.domain.models:ModelList",
    query=(LIMIT, CURSOR, *FILTERS),
)
def list_models(req: ApiRequest) -> Reply:
    from chalicelib.domain.models import ModelList
    from chalicelib.services import inventory

    filters = {k: v for k, v in req.query.items() if k not in ("limit", "cursor")}
    items, next_cursor = inventory.list_models(req.actor, req.limit, req.cursor, filters)
    return Reply(ModelList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    "/v1/models/{model_id}",
    summary="Get a model",
    tag=TAG,
    response="chalicelib.domain.models:Model",
)
def get_model(req: ApiRequest, model_id: str) -> Reply:
    from chalicelib.services import inventory

    return _model_reply(inventory.get_model(req.actor, model_id))


@endpoint(
    bp,
    "PATCH",
    "/v1/models/{model_id}",
    summary="Update a model (merge-patch)",
    tag=TAG,
    roles={Role.DEVELOPER, Role.VALIDATOR, Role.APPROVER},
    request="chalicelib.domain.models:ModelPatch",
    response="chalicelib.domain.models:Model",
    if_match=True,
    errors=(409, 422),
)
def update_model(req: ApiRequest, model_id: str) -> Reply:
    from chalicelib.services import inventory

    model = inventory.update_model(req.actor, model_id, req.body, req.expected_revision)
    return _model_reply(model)


@endpoint(
    bp,
    "POST",
    "/v1/models/{model_id}/versions",
    summary="Register a draft version",
    tag=TAG,
    roles={Role.DEVELOPER},
    request="chalicelib.domain.models:VersionCreate",
    response="chalicelib.domain.models:Version",
    status=201,
    idempotent=True,
    errors=(409,),
)
def create_version(req: ApiRequest, model_id: str) -> Reply:
    from chalicelib.services import inventory

    claim = req.claim_for(_version_created)
    return _version_created(inventory.create_version(req.actor, model_id, req.body, claim))


@endpoint(
    bp,
    "GET",
    "/v1/models/{model_id}/versions",
    summary="List a model's versions",
    tag=TAG,
    response="chalicelib.domain.models:VersionList",
    query=(LIMIT, CURSOR),
)
def list_versions(req: ApiRequest, model_id: str) -> Reply:
    from chalicelib.domain.models import VersionList
    from chalicelib.services import inventory

    items, next_cursor = inventory.list_versions(req.actor, model_id, req.limit, req.cursor)
    return Reply(VersionList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    "/v1/models/{model_id}/versions/{number}",
    summary="Get a version",
    tag=TAG,
    response="chalicelib.domain.models:Version",
)
def get_version(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.services import inventory

    return _version_reply(inventory.get_version(req.actor, model_id, number))


@endpoint(
    bp,
    "PATCH",
    "/v1/models/{model_id}/versions/{number}",
    summary="Update a draft version (merge-patch)",
    tag=TAG,
    roles={Role.DEVELOPER},
    request="chalicelib.domain.models:VersionPatch",
    response="chalicelib.domain.models:Version",
    if_match=True,
    errors=(409,),
)
def update_version(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.services import inventory

    version = inventory.update_version(req.actor, model_id, number, req.body, req.expected_revision)
    return _version_reply(version)
