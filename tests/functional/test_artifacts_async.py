"""Large artifacts: multipart uploads through presigned part URLs, and verification by the
queue consumer the outbox feeds (driven as Lambda would, by infra.dispatch)."""

from __future__ import annotations

import base64
import hashlib
import threading
from typing import Any

from tests.conftest import Api, Tenant
from tests.functional.artifact_world import (
    LARGE,
    MIB,
    SMALLISH,
    audit_actions,
    dispatcher,
    drain,
    invoke_verifier,
    new_version,
    small_limits,
    verification_messages,
)
from tests.harness.uploads import artifact_body, put, put_parts

__all__ = ["dispatcher", "small_limits"]  # fixtures


def test_a_multipart_upload_waits_for_every_part_then_is_verified_by_the_consumer(
    api: Api, tenant: Tenant, dispatcher: Any
) -> None:
    version = new_version(api, tenant)
    dev = tenant.keys["developer"]
    # GIVEN an artifact above the multipart threshold
    registered = api.post(f"{version}/artifacts", dev, artifact_body(LARGE, name="big.onnx"))
    assert registered.status == 201, registered.json
    upload = registered.json["upload"]
    assert upload["url"] is None and upload["part_size"] == 5 * MIB
    assert [p["size"] for p in upload["parts"]] == [5 * MIB, 5 * MIB, MIB]
    # WHEN only parts 1 and 3 are uploaded THEN completing says which part is missing
    put_parts(upload, LARGE, only={1, 3})
    early = api.post(f"{version}/artifacts/big.onnx/complete", dev)
    assert early.status == 409, early.json
    assert "parts 2 of 3 are not uploaded yet" in early.json["detail"]
    # WHEN the last part follows THEN completing answers 202: a consumer verifies it
    put_parts(upload, LARGE, only={2})
    done = api.post(f"{version}/artifacts/big.onnx/complete", dev)
    assert done.status == 202, done.json
    assert done.json["status"] == "verifying" and done.json["s3_version_id"]
    again = api.post(f"{version}/artifacts/big.onnx/complete", dev)
    assert (again.status, again.json["revision"]) == (202, done.json["revision"])
    drain(dispatcher)
    seen = api.get(f"{version}/artifacts/big.onnx", tenant.keys["auditor"]).json
    assert seen["status"] == "verified"
    assert seen["computed_sha256"] == hashlib.sha256(LARGE).hexdigest()
    assert seen["computed_size"] == len(LARGE)
    assert seen["download"]["s3_version_id"] == done.json["s3_version_id"]
    assert audit_actions(api, tenant)[-3:] == [
        "artifact.registered",
        "artifact.verification_requested",
        "artifact.verified",
    ]


def test_a_part_of_the_wrong_size_is_a_422_and_the_upload_stays_open(
    api: Api, tenant: Tenant, dispatcher: Any
) -> None:
    version = new_version(api, tenant)
    dev = tenant.keys["developer"]
    registered = api.post(f"{version}/artifacts", dev, artifact_body(LARGE, name="big.onnx"))
    upload = registered.json["upload"]
    put_parts(upload, LARGE, only={1, 3})
    short = {**upload, "parts": [{**upload["parts"][1], "size": MIB}]}
    put_parts(short, LARGE[5 * MIB :])  # part 2 with 1 MiB only
    wrong = api.post(f"{version}/artifacts/big.onnx/complete", dev)
    assert wrong.status == 422, wrong.json
    assert wrong.json["errors"] == [
        {"field": "part 2", "message": f"{MIB} bytes, expected {5 * MIB}"}
    ]
    put_parts(upload, LARGE, only={2})  # a part uploaded again replaces it
    done = api.post(f"{version}/artifacts/big.onnx/complete", dev)
    assert done.status == 202, done.json


def test_wrong_bytes_with_a_forged_checksum_end_in_mismatch_through_the_consumer(
    api: Api, tenant: Tenant, dispatcher: Any
) -> None:
    version = new_version(api, tenant)
    dev = tenant.keys["developer"]
    registered = api.post(f"{version}/artifacts", dev, artifact_body(SMALLISH))
    forged = base64.b64encode(hashlib.sha256(SMALLISH).digest()).decode()
    put(registered.json["upload"], b"y" * len(SMALLISH), **{"x-amz-checksum-sha256": forged})
    done = api.post(f"{version}/artifacts/model.bin/complete", dev)
    assert (done.status, done.json["status"]) == (202, "verifying")
    drain(dispatcher)
    seen = api.get(f"{version}/artifacts/model.bin", tenant.keys["auditor"]).json
    assert (seen["status"], seen["mismatched"], seen["download"]) == ("mismatch", ["sha256"], None)
    assert seen["computed_sha256"] == hashlib.sha256(b"y" * len(SMALLISH)).hexdigest()
    assert audit_actions(api, tenant)[-1] == "artifact.rejected"
    refused = api.post(f"{version}/artifacts/model.bin/complete", dev)
    assert refused.status == 409 and "register it again" in refused.json["detail"]


def test_a_redelivered_verification_request_changes_nothing(
    api: Api, tenant: Tenant, dispatcher: Any, aws: dict[str, str]
) -> None:
    version = new_version(api, tenant)
    dev = tenant.keys["developer"]
    registered = api.post(f"{version}/artifacts", dev, artifact_body(SMALLISH))
    put(registered.json["upload"], SMALLISH)
    api.post(f"{version}/artifacts/model.bin/complete", dev)
    dispatcher.streams[0].pump_once()  # the relay: the request reaches the verifier's queue
    (envelope,) = verification_messages(aws)
    drain(dispatcher)
    verified = api.get(f"{version}/artifacts", dev).json["items"]
    assert verified[0]["status"] == "verified"
    before = audit_actions(api, tenant)
    # WHEN the same message is delivered again (SQS delivers at least once)
    assert invoke_verifier(envelope) == {"batchItemFailures": []}
    # THEN nothing changes
    assert api.get(f"{version}/artifacts", dev).json["items"] == verified
    assert audit_actions(api, tenant) == before


def test_two_verifiers_racing_on_one_message_record_one_verdict(
    api: Api, tenant: Tenant, dispatcher: Any, aws: dict[str, str], monkeypatch: Any
) -> None:
    from chalicelib.store.objects import ArtifactObjects

    version = new_version(api, tenant)
    dev = tenant.keys["developer"]
    registered = api.post(f"{version}/artifacts", dev, artifact_body(SMALLISH))
    put(registered.json["upload"], SMALLISH)
    api.post(f"{version}/artifacts/model.bin/complete", dev)
    dispatcher.streams[0].pump_once()
    (envelope,) = verification_messages(aws)
    # GIVEN a first verifier held up while it reads the object (a visibility timeout ran
    # out, so a second one gets the same message)
    reading, release = threading.Event(), threading.Event()
    digest = ArtifactObjects.digest

    def slow_first(objects: ArtifactObjects, key: str, version_id: str) -> Any:
        if threading.current_thread().name == "first":
            reading.set()
            release.wait(30)
        return digest(objects, key, version_id)

    monkeypatch.setattr(ArtifactObjects, "digest", slow_first)
    answers: list[dict[str, Any]] = []
    first = threading.Thread(target=lambda: answers.append(invoke_verifier(envelope)))
    first.name = "first"
    first.start()
    assert reading.wait(30)
    # WHEN the second verifier finishes first, then the first one goes on
    assert invoke_verifier(envelope) == {"batchItemFailures": []}
    release.set()
    first.join(30)
    # THEN both succeed, and one verdict is recorded
    assert answers == [{"batchItemFailures": []}]
    assert audit_actions(api, tenant).count("artifact.verified") == 1


def test_a_registration_replaced_while_verifying_takes_no_stale_verdict(
    api: Api, tenant: Tenant, dispatcher: Any
) -> None:
    version = new_version(api, tenant)
    dev = tenant.keys["developer"]
    registered = api.post(f"{version}/artifacts", dev, artifact_body(SMALLISH))
    put(registered.json["upload"], SMALLISH)
    assert api.post(f"{version}/artifacts/model.bin/complete", dev).status == 202
    # WHEN the name is registered again before the verifier has run
    again = api.post(f"{version}/artifacts", dev, artifact_body(b"z" * 2048))
    assert again.status == 201, again.json
    drain(dispatcher)
    # THEN the new registration stays pending: the old verdict does not land on it
    seen = api.get(f"{version}/artifacts/model.bin", dev).json
    assert (seen["status"], seen["size"], seen["computed_sha256"]) == ("pending", 2048, None)
    assert "artifact.verified" not in audit_actions(api, tenant)


def test_a_verification_request_reaches_the_queue_through_the_outbox_only(
    api: Api, tenant: Tenant, dispatcher: Any, aws: dict[str, str]
) -> None:
    version = new_version(api, tenant)
    dev = tenant.keys["developer"]
    registered = api.post(f"{version}/artifacts", dev, artifact_body(SMALLISH))
    put(registered.json["upload"], SMALLISH)
    api.post(f"{version}/artifacts/model.bin/complete", dev)
    # Before the relay has read the table's stream, the queue is empty: the request path
    # sent nothing itself.
    assert verification_messages(aws) == []
    dispatcher.streams[0].pump_once()
    (envelope,) = verification_messages(aws)
    assert envelope["type"] == "artifact.verification_requested"
    assert envelope["tenant_id"] == tenant.id and envelope["data"]["status"] == "verifying"
