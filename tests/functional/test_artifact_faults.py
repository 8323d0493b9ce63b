"""S3 failing under the artifact paths the route-wide fault tests do not take (they send the
exerciser's small single upload): a multipart registration and completion, and the
verifier's read. A call that keeps failing is a clean 503 (or a failed message) that
changes nothing; one that fails once is retried by botocore and the change is made once."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, Tenant
from tests.functional.artifact_world import (
    LARGE,
    SMALLISH,
    audit_actions,
    dispatcher,
    drain,
    invoke_verifier,
    new_version,
    small_limits,
    verification_messages,
)
from tests.harness.faults import Faults, PerRequest, Site
from tests.harness.uploads import artifact_body, put, put_parts

__all__ = ["dispatcher", "small_limits"]  # fixtures used here

KINDS = ("throttling", "internal", "connection")


def registered(api: Api, tenant: Tenant, version: str, content: bytes) -> dict[str, Any]:
    answer = api.post(
        f"{version}/artifacts", tenant.keys["developer"], artifact_body(content, name="big.bin")
    )
    assert answer.status == 201, answer.json
    return dict(answer.json)


def test_a_multipart_registration_s3_refuses_is_a_503_that_stores_nothing(
    api: Api, tenant: Tenant, faults: Faults
) -> None:
    version = new_version(api, tenant)
    before = audit_actions(api, tenant)
    for kind in KINDS:
        faults.inject(Site("s3", "CreateMultipartUpload"), kind)
        answer = PerRequest(api, faults).post(
            f"{version}/artifacts", tenant.keys["developer"], artifact_body(LARGE, name="big.bin")
        )
        faults.clear()
        assert answer.status == 503, (kind, answer.json)
        assert answer.headers["retry-after"] == "1", kind
    assert api.get(f"{version}/artifacts", tenant.keys["developer"]).json["items"] == []
    assert audit_actions(api, tenant) == before
    # AND once S3 answers again, so does the registration
    assert registered(api, tenant, version, LARGE)["multipart"] is True


def test_completing_a_multipart_upload_s3_fails_is_a_503_then_completes_once(
    api: Api, tenant: Tenant, faults: Faults
) -> None:
    for site, kind in [(op, k) for op in ("ListParts", "CompleteMultipartUpload") for k in KINDS]:
        version = new_version(api, tenant)
        put_parts(registered(api, tenant, version, LARGE)["upload"], LARGE)
        before = audit_actions(api, tenant)
        faults.inject(Site("s3", site), kind)
        answer = PerRequest(api, faults).post(
            f"{version}/artifacts/big.bin/complete", tenant.keys["developer"]
        )
        faults.clear()
        assert answer.status == 503, (site, kind, answer.json)
        assert audit_actions(api, tenant) == before, (site, kind)
        seen = api.get(f"{version}/artifacts/big.bin", tenant.keys["developer"]).json
        assert seen["status"] == "pending", (site, kind)
        done = api.post(f"{version}/artifacts/big.bin/complete", tenant.keys["developer"])
        assert (done.status, done.json["status"]) == (202, "verifying"), (site, kind)
        assert audit_actions(api, tenant)[len(before) :] == ["artifact.verification_requested"]


def test_a_completion_whose_answer_from_s3_was_lost_still_completes_once(
    api: Api, tenant: Tenant, faults: Faults
) -> None:
    """CompleteMultipartUpload applied, its answer lost: botocore's retry finds the upload
    gone, and the completion goes on from the object it made."""
    version = new_version(api, tenant)
    put_parts(registered(api, tenant, version, LARGE)["upload"], LARGE)
    fault = faults.inject(Site("s3", "CompleteMultipartUpload"), "lost-response", times=1)
    answer = PerRequest(api, faults).post(
        f"{version}/artifacts/big.bin/complete", tenant.keys["developer"]
    )
    assert fault.hits == 1
    assert (answer.status, answer.json["status"]) == (202, "verifying")
    assert audit_actions(api, tenant).count("artifact.verification_requested") == 1


def test_the_verifier_fails_the_message_while_s3_fails_and_verifies_once_it_answers(
    api: Api, tenant: Tenant, faults: Faults, dispatcher: Any, aws: dict[str, str]
) -> None:
    dev = tenant.keys["developer"]
    for kind in KINDS:
        version = new_version(api, tenant)
        answer = api.post(f"{version}/artifacts", dev, artifact_body(SMALLISH))
        put(answer.json["upload"], SMALLISH)
        assert api.post(f"{version}/artifacts/model.bin/complete", dev).status == 202
        dispatcher.streams[0].pump_once()
        (envelope,) = verification_messages(aws)
        before = audit_actions(api, tenant)
        # WHEN S3 keeps failing the verifier's read THEN the message fails, to come back
        faults.new_request()
        faults.inject(Site("s3", "GetObject"), kind)
        failed = invoke_verifier(envelope)
        faults.clear()
        assert failed == {"batchItemFailures": [{"itemIdentifier": "redelivered"}]}, kind
        assert audit_actions(api, tenant) == before, kind
        assert api.get(f"{version}/artifacts/model.bin", dev).json["status"] == "verifying"
        # WHEN it comes back with S3 answering THEN it is verified, once
        assert invoke_verifier(envelope) == {"batchItemFailures": []}, kind
        assert api.get(f"{version}/artifacts/model.bin", dev).json["status"] == "verified"
        assert audit_actions(api, tenant)[len(before) :] == ["artifact.verified"], kind
        drain(dispatcher)  # the queue's copy of the message: nothing left to do
