"""Artifacts of a version: register, upload (straight to S3), complete, read, download."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, Reply, endpoint, etag
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from chalicelib.domain.artifacts import Artifact, ArtifactRegistered

bp = Blueprint(__name__)
TAG = "Artifacts"
ARTIFACTS = "/v1/models/{model_id}/versions/{number}/artifacts"


def _reply(artifact: Artifact, status: int = 200) -> Reply:
    headers = {"ETag": etag(artifact.revision)}
    if status == 201:
        headers["Location"] = (
            f"/v1/models/{artifact.model_id}/versions/{artifact.version_number}"
            f"/artifacts/{artifact.name}"
        )
    return Reply(artifact, status, headers)


def _registered(artifact: ArtifactRegistered) -> Reply:
    return _reply(artifact, 201)


@endpoint(
    bp,
    "POST",
    ARTIFACTS,
    summary="Register an artifact (again: replace it) on a draft version; get its upload URLs",
    tag=TAG,
    roles={Role.DEVELOPER},
    request="chalicelib.domain.artifacts:ArtifactCreate",
    response="chalicelib.domain.artifacts:ArtifactRegistered",
    status=201,
    idempotent=True,
    errors=(409, 413),
)
def register_artifact(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.services import artifacts

    claim = req.claim_for(_registered)
    return _registered(artifacts.register(req.actor, model_id, number, req.body, claim))


@endpoint(
    bp,
    "GET",
    ARTIFACTS,
    summary="List a version's artifacts",
    tag=TAG,
    response="chalicelib.domain.artifacts:ArtifactList",
    query=(LIMIT, CURSOR),
)
def list_artifacts(req: ApiRequest, model_id: str, number: str) -> Reply:
    from chalicelib.domain.artifacts import ArtifactList
    from chalicelib.services import artifacts

    items, next_cursor = artifacts.list_artifacts(
        req.actor, model_id, number, req.limit, req.cursor
    )
    return Reply(ArtifactList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    ARTIFACTS + "/{name}",
    summary="Get an artifact, with a download URL of the verified object version",
    tag=TAG,
    response="chalicelib.domain.artifacts:ArtifactView",
)
def get_artifact(req: ApiRequest, model_id: str, number: str, name: str) -> Reply:
    from chalicelib.services import artifacts

    return _reply(artifacts.get(req.actor, model_id, number, name))


@endpoint(
    bp,
    "POST",
    ARTIFACTS + "/{name}/complete",
    summary="The upload is done: Custos reads the bytes and verifies size and SHA-256",
    tag=TAG,
    roles={Role.DEVELOPER},
    response="chalicelib.domain.artifacts:Artifact",
    status=200,
    also=(202,),
    errors=(409, 422),
)
def complete_artifact(req: ApiRequest, model_id: str, number: str, name: str) -> Reply:
    from chalicelib.services import artifact_verification

    artifact, later = artifact_verification.complete(req.actor, model_id, number, name)
    return _reply(artifact, 202 if later else 200)
