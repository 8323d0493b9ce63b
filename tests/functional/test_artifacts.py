"""Artifacts through the API, with real bytes sent through the presigned URLs (moto's S3):
registration, upload, verification in the call, replacement, download, bad input and other
tenants. The asynchronous path and multipart uploads are in test_artifacts_async.py."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import boto3
import requests

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


def test_a_small_artifact_uploaded_through_its_url_is_verified_in_the_call(
    api: Api, tenant: Tenant
) -> None:
    version = new_version(api, tenant)
    # GIVEN a registered artifact and its upload URL
    registered = register(api, tenant, version, CONTENT)
    assert registered["status"] == "pending" and registered["upload"]["method"] == "PUT"
    assert registered["upload"]["headers"] == {"Content-Type": "application/octet-stream"}
    # WHEN its bytes are PUT there and the upload is completed
    put(registered["upload"], CONTENT)
    done = api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    # THEN Custos computed the same digest and size, and names the object version it read
    assert done.status == 200, done.json
    assert done.json["status"] == "verified"
    assert done.json["computed_sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert done.json["computed_size"] == len(CONTENT)
    assert done.json["s3_version_id"] and done.headers["etag"] == '"2"'
    # AND every role reads it, with a download URL of exactly that version
    seen = api.get(f"{version}/artifacts/model.bin", tenant.keys["monitor"])
    assert seen.status == 200
    assert seen.json["download"]["s3_version_id"] == done.json["s3_version_id"]
    assert requests.get(seen.json["download"]["url"], timeout=30).content == CONTENT
    listed = api.get(f"{version}/artifacts", tenant.keys["auditor"]).json["items"]
    assert [(a["name"], a["status"]) for a in listed] == [("model.bin", "verified")]
    # AND the registration and the verification are in the audit trail
    assert audit_actions(api, tenant)[-2:] == ["artifact.registered", "artifact.verified"]


def test_wrong_bytes_with_a_forged_checksum_header_are_refused_and_nothing_is_recorded(
    api: Api, tenant: Tenant
) -> None:
    version = new_version(api, tenant)
    registered = register(api, tenant, version, CONTENT)
    # GIVEN other bytes uploaded with a checksum header claiming the registered digest
    forged = base64.b64encode(hashlib.sha256(CONTENT).digest()).decode()
    put(registered["upload"], OTHER[: len(CONTENT)], **{"x-amz-checksum-sha256": forged})
    before = audit_actions(api, tenant)
    # WHEN the upload is completed
    done = api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    # THEN Custos read the bytes itself and refuses them, naming the digest
    assert done.status == 422, done.json
    assert [e["field"] for e in done.json["errors"]] == ["sha256"]
    assert hashlib.sha256(OTHER[: len(CONTENT)]).hexdigest() in done.json["errors"][0]["message"]
    # AND nothing changed: still pending, no digest recorded, nothing audited
    seen = api.get(f"{version}/artifacts/model.bin", tenant.keys["developer"]).json
    assert (seen["status"], seen["computed_sha256"], seen["download"]) == ("pending", None, None)
    assert audit_actions(api, tenant) == before
    # WHEN the right bytes follow through the same URL THEN they are verified
    put(registered["upload"], CONTENT)
    again = api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    assert (again.status, again.json["status"]) == (200, "verified")


def test_completing_an_artifact_never_uploaded_is_a_409_that_changes_nothing(
    api: Api, tenant: Tenant
) -> None:
    version = new_version(api, tenant)
    register(api, tenant, version, CONTENT)
    before = audit_actions(api, tenant)
    done = api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    assert done.status == 409, done.json
    assert "nothing is uploaded" in done.json["detail"]
    assert audit_actions(api, tenant) == before


def test_an_upload_of_another_size_is_a_422_naming_the_size(api: Api, tenant: Tenant) -> None:
    version = new_version(api, tenant)
    registered = register(api, tenant, version, CONTENT)
    # S3 itself refuses this PUT (the URL signs the length); moto stores it, as a store
    # that does not check would: the completion must catch it.
    put(registered["upload"], CONTENT + b"!")
    done = api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    assert done.status == 422, done.json
    assert done.json["errors"] == [
        {"field": "size", "message": f"uploaded {len(CONTENT) + 1}, registered {len(CONTENT)}"}
    ]


def test_registering_a_name_again_before_submission_replaces_the_record_audited(
    api: Api, tenant: Tenant
) -> None:
    version = new_version(api, tenant)
    first = register(api, tenant, version, CONTENT)
    put(first["upload"], CONTENT)
    api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    # WHEN the same name is registered with other bytes' digest
    second = register(api, tenant, version, OTHER, kind="documentation")
    # THEN the record is replaced: pending again, a revision later, still one artifact
    assert (second["status"], second["revision"], second["kind"]) == ("pending", 3, "documentation")
    listed = api.get(f"{version}/artifacts", tenant.keys["developer"]).json["items"]
    assert [(a["name"], a["sha256"]) for a in listed] == [
        ("model.bin", hashlib.sha256(OTHER).hexdigest())
    ]
    # AND the replacement is audited with what changed
    events = api.get("/v1/audit-events?limit=100", tenant.keys["auditor"]).json["items"]
    replaced = events[-1]
    assert replaced["action"] == "artifact.replaced"
    assert replaced["before"]["status"] == "verified" and replaced["after"]["status"] == "pending"
    assert replaced["after"]["sha256"] == hashlib.sha256(OTHER).hexdigest()
    # AND the new bytes verify against the new registration
    put(second["upload"], OTHER)
    done = api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    assert (done.status, done.json["computed_size"]) == (200, len(OTHER))


def test_the_download_url_names_the_verified_version_even_after_the_key_is_overwritten(
    api: Api, tenant: Tenant
) -> None:
    version = new_version(api, tenant)
    registered = register(api, tenant, version, CONTENT)
    put(registered["upload"], CONTENT)
    api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    # GIVEN other bytes PUT over the key while the upload URL is still valid
    put(registered["upload"], OTHER)
    # WHEN the artifact is downloaded THEN it is the verified bytes, not the latest
    seen = api.get(f"{version}/artifacts/model.bin", tenant.keys["auditor"]).json
    assert f"versionId={seen['s3_version_id']}" in seen["download"]["url"]
    assert requests.get(seen["download"]["url"], timeout=30).content == CONTENT


def test_an_idempotency_key_replay_answers_the_registration_without_urls(
    api: Api, tenant: Tenant
) -> None:
    version = new_version(api, tenant)
    body = artifact_body(CONTENT)
    headers = {"Idempotency-Key": "register-1"}
    first = api.post(f"{version}/artifacts", tenant.keys["developer"], body, headers=headers)
    replay = api.post(f"{version}/artifacts", tenant.keys["developer"], body, headers=headers)
    assert (first.status, replay.status) == (201, 201)
    assert replay.headers["idempotent-replayed"] == "true"
    assert first.json["upload"]["url"] and replay.json["upload"] is None
    assert {k: v for k, v in first.json.items() if k != "upload"} == {
        k: v for k, v in replay.json.items() if k != "upload"
    }
    assert audit_actions(api, tenant).count("artifact.registered") == 1


def test_the_objects_live_under_the_tenants_prefix_with_zero_padded_version_numbers(
    api: Api, tenant: Tenant
) -> None:
    version = new_version(api, tenant)
    registered = register(api, tenant, version, CONTENT)
    model_id = version.split("/")[3]
    key = f"tenants/{tenant.id}/models/{model_id}/versions/000001/artifacts/model.bin"
    assert f"/{key}?" in registered["upload"]["url"]
    put(registered["upload"], CONTENT)
    from chalicelib.config import settings

    listed = boto3.client("s3").list_object_versions(
        Bucket=settings().bucket, Prefix=f"tenants/{tenant.id}/"
    )
    assert [v["Key"] for v in listed["Versions"]] == [key]


def test_only_the_models_team_registers_and_completes(api: Api, tenant: Tenant) -> None:
    version = new_version(api, tenant)  # the team is the first developer alone
    outsider = tenant.keys["developer2"]
    refused = api.post(f"{version}/artifacts", outsider, artifact_body(CONTENT))
    assert refused.status == 403, refused.json
    register(api, tenant, version, CONTENT)
    completed = api.post(f"{version}/artifacts/model.bin/complete", outsider)
    assert completed.status == 403, completed.json


# (what is wrong, the change to a good body, the status, the field the answer names)
BAD_BODIES: list[tuple[str, dict[str, Any], int, str]] = [
    ("a path separator", {"name": "models/v1.bin"}, 400, "body.name"),
    ("a backslash", {"name": "..\\model.bin"}, 400, "body.name"),
    ("two dots", {"name": "model..bin"}, 400, "body.name"),
    ("dot dot", {"name": ".."}, 400, "body.name"),
    ("a control character", {"name": "model\x00.bin"}, 400, "body.name"),
    ("201 characters", {"name": "m" * 201}, 400, "body.name"),
    ("62 hex digits", {"sha256": "ab" * 31}, 400, "body.sha256"),
    ("not hex", {"sha256": "zz" * 32}, 400, "body.sha256"),
    ("size 0", {"size": 0}, 400, "body.size"),
    ("a negative size", {"size": -5}, 400, "body.size"),
    ("above the size limit", {"size": 20 * 2**20 + 1}, 413, "body.size"),
    ("an unknown kind", {"kind": "weights"}, 400, "body.kind"),
    ("a media type without /", {"media_type": "text"}, 400, "body.media_type"),
    ("an unknown field", {"checksum": "x"}, 400, "body.checksum"),
]


def test_a_bad_registration_is_a_clear_4xx_and_stores_nothing(api: Api, tenant: Tenant) -> None:
    # One tenant for every case: each refusal must leave it exactly as it was.
    version = new_version(api, tenant)
    before = audit_actions(api, tenant)
    for wrong, change, status, field in BAD_BODIES:
        body = {**artifact_body(CONTENT), **change}
        answer = api.post(f"{version}/artifacts", tenant.keys["developer"], body)
        assert answer.status == status, (wrong, answer.json)
        assert answer.headers["content-type"] == "application/problem+json", wrong
        assert field in [e["field"] for e in answer.json["errors"]], (wrong, answer.json)
    assert api.get(f"{version}/artifacts", tenant.keys["developer"]).json["items"] == []
    assert audit_actions(api, tenant) == before


def test_a_path_that_cannot_name_an_artifact_is_a_404(api: Api, tenant: Tenant) -> None:
    version = new_version(api, tenant)
    for name in ("..", "a%2Fb", "x" * 201, "model..bin", ".hidden"):
        answer = api.get(f"{version}/artifacts/{name}", tenant.keys["developer"])
        assert answer.status == 404, (name, answer.json)


def test_another_tenants_version_and_artifacts_are_a_404_and_stay_unchanged(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    # GIVEN a verified artifact of one tenant
    version = new_version(api, tenant)
    registered = register(api, tenant, version, CONTENT)
    put(registered["upload"], CONTENT)
    api.post(f"{version}/artifacts/model.bin/complete", tenant.keys["developer"])
    mine = api.get(f"{version}/artifacts/model.bin", tenant.keys["developer"]).json
    intruder = other_tenant.keys["developer"]
    # WHEN another tenant's developer registers, completes, reads and lists there
    answers = [
        api.post(f"{version}/artifacts", intruder, artifact_body(OTHER)),
        api.post(f"{version}/artifacts/model.bin/complete", intruder),
        api.get(f"{version}/artifacts/model.bin", intruder),
        api.get(f"{version}/artifacts", intruder),
    ]
    # THEN each is a 404 that shows nothing of it, and the artifact is as it was
    assert [a.status for a in answers] == [404, 404, 404, 404]
    assert not any(mine["s3_version_id"] in a.raw.decode() for a in answers)
    after = api.get(f"{version}/artifacts/model.bin", tenant.keys["developer"]).json
    assert {k: v for k, v in after.items() if k != "download"} == {
        k: v for k, v in mine.items() if k != "download"
    }
