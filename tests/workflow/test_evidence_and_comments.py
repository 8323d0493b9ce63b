"""Evidence and comments on an approval request, with moto executing the workflow: a
validator attaches a report to their stage (uploaded through a presigned URL, verified by
Custos reading the bytes), the roles that decide the request comment, and both show on it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from tests.conftest import Api, Tenant
from tests.harness.clients import Answer
from tests.harness.uploads import artifact_body, put
from tests.workflow.conftest import until
from tests.workflow.flow import (
    actions,
    decide,
    person,
    read,
    settled,
    stage_open,
    submitted,
)

REPORT = b"Validation report: back-tested on the 2024 book, AUC 0.80.\n"


def add(
    api: Api, tenant: Tenant, request_id: str, who: str, content: bytes, **fields: object
) -> Answer:
    body = artifact_body(content, "report.txt", kind="documentation", media_type="text/plain")
    return api.post(
        f"/v1/approval-requests/{request_id}/evidence", tenant.keys[who], {**body, **fields}
    )


def complete(
    api: Api, tenant: Tenant, request_id: str, who: str, name: str = "report.txt"
) -> Answer:
    return api.post(
        f"/v1/approval-requests/{request_id}/evidence/{name}/complete", tenant.keys[who]
    )


def comment(api: Api, tenant: Tenant, request_id: str, who: str, text: str) -> Answer:
    return api.post(
        f"/v1/approval-requests/{request_id}/comments", tenant.keys[who], {"text": text}
    )


def test_a_validator_attaches_a_report_custos_verifies_and_the_request_shows_it(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    person(api, tenant, "dev_judge", "developer", "validator")
    request = submitted(api, tenant, risk_tier=2, developer_ids=[tenant.ids["dev_judge"]])
    request_id = request["id"]
    stage_open(api, tenant, request_id, 0, pump)
    # WHEN the model's team, or a role that does not decide the open stage, adds evidence
    assert add(api, tenant, request_id, "dev_judge", REPORT).status == 403
    assert add(api, tenant, request_id, "approver", REPORT).status == 403
    # WHEN the validator adds a report, THEN it is pending, with a presigned upload
    added = add(api, tenant, request_id, "validator", REPORT)
    assert added.status == 201, added.json
    assert (added.json["stage"], added.json["status"]) == (0, "pending")
    # (completing before the bytes are there is a 409)
    assert complete(api, tenant, request_id, "validator").status == 409
    put(added.json["upload"], REPORT)
    # WHEN the validator completes it, THEN Custos computed the digest and it counts
    done = complete(api, tenant, request_id, "validator")
    assert done.status == 200, done.json
    assert done.json["status"] == "verified"
    assert done.json["computed_sha256"] == hashlib.sha256(REPORT).hexdigest()
    assert done.json["s3_version_id"]
    # AND it shows on the request's stage, with who added it and with which key
    [shown] = read(api, tenant, request_id)["stages"][0]["evidence"]
    assert (shown["name"], shown["status"]) == ("report.txt", "verified")
    assert shown["added_by"] == tenant.ids["validator"] and shown["key_id"]
    # AND a verified file is not replaced, and completing it again answers it as it is
    again = add(api, tenant, request_id, "validator", b"other bytes")
    assert again.status == 409, again.json
    assert complete(api, tenant, request_id, "validator").json["status"] == "verified"
    trail = actions(api, tenant)
    assert "approval.evidence_added" in trail and "approval.evidence_verified" in trail


def test_evidence_whose_bytes_differ_or_that_is_too_large_is_refused(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    request_id = submitted(api, tenant, risk_tier=2)["id"]
    stage_open(api, tenant, request_id, 0, pump)
    # GIVEN a report registered with one digest and other bytes uploaded
    added = add(api, tenant, request_id, "validator", REPORT)
    assert added.status == 201, added.json
    put(added.json["upload"], b"X" * len(REPORT))
    # WHEN it is completed, THEN 422 names the digest, and it stays pending
    refused = complete(api, tenant, request_id, "validator")
    assert refused.status == 422, refused.json
    assert [e["field"] for e in refused.json["errors"]] == ["sha256"]
    assert read(api, tenant, request_id)["stages"][0]["evidence"][0]["status"] == "pending"
    # AND evidence above what one upload takes is a 413
    huge = add(api, tenant, request_id, "validator", REPORT, size=1024**3)
    assert huge.status == 413, huge.json


def test_the_roles_deciding_a_request_comment_on_it_and_the_team_does_not(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    person(api, tenant, "dev_judge", "developer", "approver")
    request = submitted(api, tenant, risk_tier=2, developer_ids=[tenant.ids["dev_judge"]])
    request_id = request["id"]
    stage_open(api, tenant, request_id, 0, pump)
    # WHEN the validator and an approver (of the next stage) comment, THEN both show
    first = comment(api, tenant, request_id, "validator", "Report attached.")
    assert first.status == 201, first.json
    assert comment(api, tenant, request_id, "approver", "Reading it.").status == 201
    comments = read(api, tenant, request_id)["comments"]
    assert [(c["by"], c["text"], c["stage"]) for c in comments] == [
        (tenant.ids["validator"], "Report attached.", 0),
        (tenant.ids["approver"], "Reading it.", 0),
    ]
    # AND the team may not, whatever roles it holds
    assert comment(api, tenant, request_id, "dev_judge", "Looks fine to me").status == 403
    # AND once the request is decided, comments on it are over
    assert decide(api, tenant, request_id, "validator", "reject").status == 201
    settled(api, tenant, request_id, "rejected", pump)
    late = comment(api, tenant, request_id, "approver", "Too late")
    assert late.status == 409, late.json


def test_larger_evidence_is_verified_by_the_verifier_consumer(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.config import settings

    api, tenant = wf_api, wf_tenant
    request_id = submitted(api, tenant, risk_tier=2)["id"]
    stage_open(api, tenant, request_id, 0, pump)
    # GIVEN evidence above the size verified in the call, one right and one wrong upload
    monkeypatch.setenv("CUSTOS_ARTIFACT_SYNC_VERIFY_BYTES", "16")
    settings.cache_clear()
    right = add(api, tenant, request_id, "validator", REPORT)
    put(right.json["upload"], REPORT)
    body = artifact_body(REPORT, "other.txt", kind="documentation", media_type="text/plain")
    wrong = api.post(f"/v1/approval-requests/{request_id}/evidence", tenant.keys["validator"], body)
    put(wrong.json["upload"], b"Y" * len(REPORT))
    # WHEN both are completed, THEN both are being verified (202)
    for name in ("report.txt", "other.txt"):
        answer = complete(api, tenant, request_id, "validator", name)
        assert (answer.status, answer.json["status"]) == (202, "verifying"), answer.json

    # AND the verifier consumer, fed through the outbox, records what it computed
    def verdicts() -> dict[str, str] | None:
        files = read(api, tenant, request_id)["stages"][0]["evidence"]
        found = {e["name"]: e["status"] for e in files}
        return found if "verifying" not in found.values() else None

    assert until(verdicts, pump) == {"report.txt": "verified", "other.txt": "mismatch"}
    assert "approval.evidence_mismatched" in actions(api, tenant)
