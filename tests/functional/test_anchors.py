"""Anchors: each tenant's chain head written to S3 under Object Lock (compliance mode), one
object per anchored sequence, skipped while the head stands still, listed per tenant."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.domain.policy import DEFAULT_BODY
from tests.conftest import Api, Tenant, new_model
from tests.harness.machinery import drain
from tests.harness.tap import EventTap


def anchor_all(aws: dict[str, str]) -> None:
    """Run the schedule once and deliver its messages to the consumer, as Lambda would."""
    from app import app
    from chalicelib.handlers.audit import anchor_audit_chains
    from infra.dispatch import Dispatcher

    anchor_audit_chains(Actor.of_system(SystemPart.SCHEDULER, "test-run"))
    drain(Dispatcher(app, boto3.session.Session(), aws), passes=50)


def anchors(api: Api, tenant: Tenant, key: str = "auditor") -> list[dict[str, Any]]:
    answer = api.get("/v1/audit/anchors?limit=100", tenant.keys[key])
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


def head(api: Api, tenant: Tenant) -> int:
    return int(api.get("/v1/audit/verify", tenant.keys["auditor"]).json["head_seq"])


def s3() -> Any:
    return boto3.client("s3")


def days_between(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)) / timedelta(days=1)


def test_the_schedule_anchors_each_tenants_head_under_compliance_retention(
    api: Api, tenant: Tenant, other_tenant: Tenant, aws: dict[str, str]
) -> None:
    # GIVEN two tenants with changes in their chains
    new_model(api, tenant)
    # WHEN the anchoring schedule runs
    anchor_all(aws)
    # THEN each tenant's head is in S3, locked in compliance mode for seven years
    for each in (tenant, other_tenant):
        (anchor,) = anchors(api, each)
        assert anchor["seq"] == head(api, each)
        assert anchor["key"] == f"tenants/{each.id}/audit/anchors/{anchor['seq']:012d}.json"
        assert anchor["bucket"] == aws["CUSTOS_ANCHORS_BUCKET"]
        assert round(days_between(anchor["retain_until"], anchor["anchored_at"])) == 2557
        stored = s3().get_object(
            Bucket=anchor["bucket"], Key=anchor["key"], VersionId=anchor["version_id"]
        )
        assert stored["ObjectLockMode"] == "COMPLIANCE"
        assert stored["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=2550)
        body = stored["Body"].read().decode()
        assert f'"hash":"{anchor["hash"]}"' in body and f'"tenant_id":"{each.id}"' in body


def test_anchoring_adds_nothing_to_the_chain_and_announces_audit_anchored(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    tap = EventTap(boto3.session.Session(), aws["CUSTOS_EVENTS_TOPIC_ARN"])
    before = head(api, tenant)
    anchor_all(aws)
    assert head(api, tenant) == before
    from app import app
    from infra.dispatch import Dispatcher

    Dispatcher(app, boto3.session.Session(), aws).pump_all()  # the relay publishes it
    # (a second dispatcher reads the stream again: at least once, deduplicated by id)
    announced = list({e["id"]: e for e in tap.take() if e["type"] == "audit.anchored"}.values())
    assert [(e["tenant_id"], e["data"]["seq"]) for e in announced] == [(tenant.id, before)]
    assert announced[0]["data"]["version_id"] == anchors(api, tenant)[0]["version_id"]


def test_a_head_that_has_not_moved_is_not_anchored_again(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    anchor_all(aws)
    anchor_all(aws)
    assert [a["seq"] for a in anchors(api, tenant)] == [head(api, tenant)]
    new_model(api, tenant)
    anchor_all(aws)
    first, second = anchors(api, tenant)
    assert first["seq"] < second["seq"] == head(api, tenant)
    listed = s3().list_object_versions(
        Bucket=aws["CUSTOS_ANCHORS_BUCKET"], Prefix=f"tenants/{tenant.id}/"
    )["Versions"]
    assert len(listed) == 2


def test_the_retention_is_the_tenants_policy(api: Api, tenant: Tenant, aws: dict[str, str]) -> None:
    policy = api.get("/v1/policy", tenant.keys["admin"])
    assert policy.json["audit_anchor_retention_days"] == 2557
    sent = {**copy.deepcopy(DEFAULT_BODY), "audit_anchor_retention_days": 400}
    put = api.call(
        "PUT",
        "/v1/policy",
        tenant.keys["admin"],
        sent,
        headers={"If-Match": policy.headers["etag"]},
    )
    assert put.status == 200, put.json
    anchor_all(aws)
    (anchor,) = anchors(api, tenant)
    assert round(days_between(anchor["retain_until"], anchor["anchored_at"])) == 400


@pytest.mark.parametrize("days", [182, 3654, 0])
def test_a_retention_outside_six_months_to_ten_years_is_refused(
    api: Api, tenant: Tenant, days: int
) -> None:
    policy = api.get("/v1/policy", tenant.keys["admin"])
    sent = {**copy.deepcopy(DEFAULT_BODY), "audit_anchor_retention_days": days}
    put = api.call(
        "PUT",
        "/v1/policy",
        tenant.keys["admin"],
        sent,
        headers={"If-Match": policy.headers["etag"]},
    )
    assert put.status == 400
    assert "audit_anchor_retention_days" in str(put.json)
    assert api.get("/v1/policy", tenant.keys["admin"]).json["version"] == 1


def test_a_policy_stored_before_the_retention_existed_reads_with_the_default(
    api: Api, tenant: Tenant
) -> None:
    from chalicelib.store import dynamo
    from chalicelib.store.keys import TenantKeys

    policy = api.get("/v1/policy", tenant.keys["admin"])
    sent = {**copy.deepcopy(DEFAULT_BODY), "escalation_contact_ids": [tenant.ids["admin"]]}
    assert (
        api.call(
            "PUT",
            "/v1/policy",
            tenant.keys["admin"],
            sent,
            headers={"If-Match": policy.headers["etag"]},
        ).status
        == 200
    )
    current = TenantKeys(tenant.id).policy_current()
    item = dynamo.get(current)
    assert item is not None
    item.pop("audit_anchor_retention_days", None)
    dynamo.client("dynamodb").put_item(TableName=dynamo.table_name(), Item=dynamo.serialize(item))
    answer = api.get("/v1/policy", tenant.keys["auditor"]).json
    assert answer["version"] == 2 and answer["audit_anchor_retention_days"] == 2557


def test_a_locked_anchor_version_cannot_be_deleted_or_overwritten(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    # GIVEN an anchor in the Object Lock bucket
    anchor_all(aws)
    (anchor,) = anchors(api, tenant)
    bucket, key, version = anchor["bucket"], anchor["key"], anchor["version_id"]
    original = s3().get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()

    # WHEN someone deletes that version by its id THEN S3 refuses
    with pytest.raises(ClientError, match="AccessDenied"):
        s3().delete_object(Bucket=bucket, Key=key, VersionId=version)

    # WHEN someone tries to write over that version THEN there is no way to name it
    with pytest.raises(ParamValidationError, match="VersionId"):
        s3().put_object(Bucket=bucket, Key=key, Body=b"forged", VersionId=version)
    # ... and a new PUT to the key only adds a version; the anchored one stays
    forged = s3().put_object(Bucket=bucket, Key=key, Body=b'{"seq":1,"hash":"forged"}')
    assert forged["VersionId"] != version
    kept = s3().get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert kept == original

    # WHEN someone deletes the key without a version id THEN only a delete marker is added
    marker = s3().delete_object(Bucket=bucket, Key=key)
    assert marker["DeleteMarker"] is True
    assert s3().get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read() == original


def test_a_tenant_lists_only_its_own_anchors_and_only_auditors_and_admins_do(
    api: Api, tenant: Tenant, other_tenant: Tenant, aws: dict[str, str]
) -> None:
    new_model(api, other_tenant)
    anchor_all(aws)
    mine, theirs = anchors(api, tenant), anchors(api, other_tenant, "admin")
    assert all(a["key"].startswith(f"tenants/{tenant.id}/") for a in mine)
    assert all(a["key"].startswith(f"tenants/{other_tenant.id}/") for a in theirs)
    assert {a["version_id"] for a in mine}.isdisjoint(a["version_id"] for a in theirs)
    for role in ("developer", "validator", "approver", "monitor"):
        answer = api.get("/v1/audit/anchors", tenant.keys[role])
        assert answer.status == 403, role


def test_anchors_page_with_a_cursor_bound_to_the_tenant(
    api: Api, tenant: Tenant, other_tenant: Tenant, aws: dict[str, str]
) -> None:
    for name in ("one", "two"):
        new_model(api, tenant, name=name)
        anchor_all(aws)
    first = api.get("/v1/audit/anchors?limit=1", tenant.keys["auditor"]).json
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = api.get(
        f"/v1/audit/anchors?limit=1&cursor={first['next_cursor']}", tenant.keys["auditor"]
    ).json
    assert second["items"][0]["seq"] > first["items"][0]["seq"]
    foreign = api.get(
        f"/v1/audit/anchors?limit=1&cursor={first['next_cursor']}", other_tenant.keys["auditor"]
    )
    assert foreign.status == 400
