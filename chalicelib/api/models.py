"""The model inventory: models and versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint, etag, field
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from chalicelib.domain.models import Model, Version

Item = dict[str, Any]  # a GET's answer, rendered by services.reads

bp = Blueprint(__name__)
TAG = "Models"
FILTERS = (
    QueryParam(
        "risk_tier",
        int,
        "The tier in force: 1 high, 2 medium, 3 low (a tier not yet confirmed counts as 1)",
        minimum=1,
        maximum=3,
    ),
    QueryParam(
        "status", str, "Model status", ("in_development", "approved", "in_production", "retired")
    ),
    QueryParam("owner", str, "Owner principal id"),
    QueryParam("tag", str, "Models carrying this tag"),
)


def _model_reply(model: Model | Item, status: int = 200) -> Reply:
    headers = {"ETag": etag(field(model, "revision"))}
    if status == 201:
        headers["Location"] = f"/v1/models/{field(model, 'id')}"
    return Reply(model, status, headers)


def _model_created(model: Model) -> Reply:
    return _model_reply(model, 201)


def _version_reply(version: Version | Item, status: int = 200) -> Reply:
    headers = {"ETag": etag(field(version, "revision"))}
    if status == 201:
        where = f"{field(version, 'model_id')}/versions/{field(version, 'number')}"
        headers["Location"] = f"/v1/models/{where}"
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
    from chalicelib.services import reads

    filters = {k: v for k, v in req.query.items() if k not in ("limit", "cursor")}
    return Reply(reads.models_page(req.actor, req.limit, req.cursor, filters))


@endpoint(
    bp,
    "GET",
    "/v1/models/{model_id}",
    summary="Get a model",
    tag=TAG,
    response="chalicelib.domain.models:Model",
)
def get_model(req: ApiRequest, model_id: str) -> Reply:
    from chalicelib.services import reads

    return _model_reply(reads.model(req.actor, model_id))


@endpoint(
    bp,
    "PATCH",
    "/v1/models/{model_id}",
    summary="Update a model's descriptive fields or team (merge-patch)",
    tag=TAG,
    roles={Role.DEVELOPER},
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
    "/v1/models/{model_id}/classification",
    summary=(
        "Classify a model: confirm or change its risk tier and regulatory scope (a validator"
        " or approver who was never on its team, with a key of their own)"
    ),
    tag=TAG,
    roles={Role.VALIDATOR, Role.APPROVER},
    request="chalicelib.domain.models:ModelClassification",
    response="chalicelib.domain.models:Model",
    if_match=True,
    errors=(409,),
)
def classify_model(req: ApiRequest, model_id: str) -> Reply:
    from chalicelib.services import classification

    model = classification.classify_model(req.actor, model_id, req.body, req.expected_revision)
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
    from chalicelib.services import reads

    return Reply(reads.versions_page(req.actor, model_id, req.limit, req.cursor))


@endpoint(
    bp,
    "GET",
    "/v1/models/{model_id}/versions/{number}",
    summary="Get a version",
    tag=TAG,
    response="chalicelib.domain.models:Version",
)
def get_version(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.services import reads

    return _version_reply(reads.version(req.actor, model_id, number))


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
