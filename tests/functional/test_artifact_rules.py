"""Artifact rules at the service layer: a version that left draft takes no artifacts (until
the approvals capability submits versions, the version is set to `submitted` here), and
the store signs nothing outside the tenant's prefix, at the client's endpoint."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from chalicelib.domain.actors import Actor
from chalicelib.domain.artifacts import ArtifactCreate
from chalicelib.domain.roles import Role
from chalicelib.errors import ConflictError
from chalicelib.services import artifact_verification, artifacts
from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys
from chalicelib.store.objects import ArtifactObjects
from tests.conftest import Api, Tenant
from tests.functional.artifact_world import (
    CONTENT,
    OTHER,
    audit_actions,
    new_version,
    register,
    small_limits,
)
from tests.harness.uploads import artifact_body, put

__all__ = ["small_limits"]  # the thresholds fixture (autouse)


def developer(tenant: Tenant) -> Actor:
    """The tenant's developer as the API would make it from their key."""
    roles = frozenset({Role.DEVELOPER})
    return Actor.of_principal("req_test", tenant.id, tenant.ids["developer"], "key_test", roles)


def submit(tenant: Tenant, model_id: str) -> None:
    """Move version 1 to `submitted`, as the approvals capability's submission will."""
    from chalicelib.config import settings

    boto3.client("dynamodb").update_item(
        TableName=settings().table,
        Key=dynamo.serialize(TenantKeys(tenant.id).version(model_id, 1)),
        UpdateExpression="SET #status = :submitted",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":submitted": {"S": "submitted"}},
    )


def test_a_submitted_version_takes_no_new_artifact_and_no_replacement(
    api: Api, tenant: Tenant
) -> None:
    version = new_version(api, tenant)
    model_id = version.split("/")[3]
    register(api, tenant, version, CONTENT)
    submit(tenant, model_id)
    before = audit_actions(api, tenant)
    listed = api.get(f"{version}/artifacts", tenant.keys["auditor"]).json["items"]
    actor = developer(tenant)
    # WHEN the team registers a new artifact, or the same name again
    for body in (artifact_body(OTHER, name="card.pdf"), artifact_body(OTHER)):
        with pytest.raises(ConflictError, match="version 1 is submitted; only drafts take"):
            artifacts.register(
                actor, model_id, "1", ArtifactCreate.model_validate_json(json.dumps(body))
            )
    # THEN nothing is stored and nothing audited
    assert api.get(f"{version}/artifacts", tenant.keys["auditor"]).json["items"] == listed
    assert audit_actions(api, tenant) == before


def test_a_submitted_version_takes_no_completed_upload(api: Api, tenant: Tenant) -> None:
    version = new_version(api, tenant)
    model_id = version.split("/")[3]
    registered = register(api, tenant, version, CONTENT)
    put(registered["upload"], CONTENT)
    submit(tenant, model_id)
    with pytest.raises(ConflictError, match="version 1 is submitted"):
        artifact_verification.complete(developer(tenant), model_id, "1", "model.bin")
    seen = api.get(f"{version}/artifacts/model.bin", tenant.keys["auditor"]).json
    assert seen["status"] == "pending"


def test_the_http_answer_of_a_frozen_version_is_a_409(api: Api, tenant: Tenant) -> None:
    version = new_version(api, tenant)
    submit(tenant, version.split("/")[3])
    answer = api.post(f"{version}/artifacts", tenant.keys["developer"], artifact_body(CONTENT))
    assert answer.status == 409, answer.json
    assert answer.json["detail"] == "version 1 is submitted; only drafts take artifacts"


@pytest.mark.parametrize(
    "name",
    ["../../ten_other/models/m", "a/../../b", "", "x\ny"],
    ids=["up", "inner", "empty", "nl"],
)
def test_no_object_key_leaves_the_tenants_prefix(name: str) -> None:
    objects = ArtifactObjects(TenantKeys("ten_one"))
    with pytest.raises(ValueError, match="is not an object key of tenant ten_one"):
        objects.key("mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS", 1, name)
    with pytest.raises(ValueError, match="is not an object key of tenant ten_one"):
        objects.presign_put("tenants/ten_two/models/m/versions/000001/artifacts/a", "a/b", 5, 60)


def test_presigned_urls_point_at_the_clients_endpoint_signed_with_sigv4(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib import bootstrap

    # GIVEN the app pointed at another S3 endpoint (the local stack's moto server)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("CUSTOS_BUCKET", "custos-local-artifacts")
    bootstrap.reset()
    try:
        objects = ArtifactObjects(TenantKeys("ten_one"))
        key = objects.key("mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS", 1, "model.bin")
        url = urlsplit(objects.presign_put(key, "application/octet-stream", 5, 60))
    finally:
        bootstrap.reset()
    # THEN the URL is that endpoint's, path-style, under the tenant's prefix
    assert (url.scheme, url.netloc) == ("http", "127.0.0.1:4566")
    assert url.path == f"/custos-local-artifacts/{key}"
    query = parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert query["X-Amz-Expires"] == ["60"]
