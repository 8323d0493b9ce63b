"""Exports end to end under moto: requested over the API (audited, 202), written by the
exporter consumer through the fan-out, downloaded by the presigned URL."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

import boto3
import pytest
import requests

from tests.conftest import Api, Tenant, new_model
from tests.functional.artifact_world import dispatcher, drain, verification_messages
from tests.functional.report_world import finding, seeded
from tests.functional.route_fixtures import TENANT_ROLES, items_of

__all__ = ["dispatcher"]  # fixtures


def requested(api: Api, tenant: Tenant, role: str = "auditor", **body: Any) -> dict[str, Any]:
    answer = api.post("/v1/exports", tenant.keys[role], {"kind": "inventory", **body})
    assert answer.status == 202, answer.json
    assert answer.headers["location"] == f"/v1/exports/{answer.json['id']}"
    return dict(answer.json)


def completed(api: Api, tenant: Tenant, export_id: str) -> dict[str, Any]:
    answer = api.get(f"/v1/exports/{export_id}", tenant.keys["auditor"])
    assert answer.status == 200, answer.json
    assert answer.json["status"] == "completed", answer.json
    return dict(answer.json)


def downloaded(export: dict[str, Any]) -> bytes:
    # requests, not the API client: the URL is S3's, which in-process moto serves
    got = requests.get(export["download_url"], timeout=30)
    assert got.status_code == 200, got.text
    return got.content


def test_an_inventory_export_runs_end_to_end_and_its_csv_has_every_row(
    api: Api, tenant: Tenant, dispatcher: Any
) -> None:
    # GIVEN a seeded tenant, and an auditor's request for its inventory as CSV
    seeded(api, tenant)
    export = requested(api, tenant, format="csv")
    assert export["status"] == "queued" and export["download_url"] is None
    # WHEN the relay and the exporter have run
    drain(dispatcher)
    # THEN the export is completed with its file's rows, size and SHA-256
    done = completed(api, tenant, export["id"])
    content = downloaded(done)
    assert done["row_count"] == 3 and done["byte_size"] == len(content)
    assert done["sha256"] == hashlib.sha256(content).hexdigest()
    assert done["download_expires_at"] > done["completed_at"]
    # AND the file is a CSV with the inventory's header and one row a model
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert content.decode().splitlines()[0].startswith("id,name,purpose,intended_use")
    assert sorted(r["name"] for r in rows) == ["EAD", "LGD", "PD"]
    pd = next(r for r in rows if r["name"] == "PD")
    assert pd["production_versions"] == "1" and pd["status"] == "in_production"
    assert pd["validators"].count("Acme validator") == 2
    assert (pd["open_high"], pd["open_low"], pd["accepted_exceptions"]) == ("1", "1", "1")
    # AND the file sits under the tenant's prefix of the exports bucket
    objects = boto3.client("s3").list_objects_v2(Bucket=boto3_bucket())["Contents"]
    assert [o["Key"] for o in objects] == [f"tenants/{tenant.id}/exports/{export['id']}.csv"]


def boto3_bucket() -> str:
    from chalicelib.config import settings

    return settings().exports.bucket


def test_a_jsonl_export_as_of_a_date_holds_the_rows_the_report_answers(
    api: Api, tenant: Tenant, dispatcher: Any
) -> None:
    # GIVEN a seeded tenant (one model in production today)
    seeded(api, tenant)
    from datetime import UTC, datetime

    today = datetime.now(UTC).date().isoformat()
    export = requested(api, tenant, role="developer", format="jsonl", as_of=today)
    assert export["as_of"].startswith(today)
    drain(dispatcher)
    # THEN its lines are the rows the inventory report answers as of that date
    lines = downloaded(completed(api, tenant, export["id"])).decode().splitlines()
    report = items_of(api, f"/v1/reports/inventory?as_of={today}", tenant.keys["auditor"])
    assert [json.loads(line) for line in lines] == report
    assert [r["name"] for r in report] == ["PD"]


def test_a_findings_export_holds_every_finding_of_the_tenant(
    api: Api, tenant: Tenant, other_tenant: Tenant, dispatcher: Any
) -> None:
    # GIVEN a seeded tenant (four findings), and another tenant's finding
    world = seeded(api, tenant)
    finding(other_tenant, new_model(api, other_tenant)["id"], "high")
    # WHEN any role exports the findings as CSV and the exporter runs
    export = requested(api, tenant, role="monitor", kind="findings", format="csv")
    drain(dispatcher)
    # THEN the file holds the tenant's four findings, with their acceptance and resolution
    done = completed(api, tenant, export["id"])
    content = downloaded(done)
    assert done["sha256"] == hashlib.sha256(content).hexdigest()
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert done["row_count"] == len(rows) == 4
    assert content.decode().splitlines()[0].startswith("id,kind,rule,severity,status")
    assert {r["model_id"] for r in rows} == {world["pd"]["id"], world["lgd"]["id"]}
    accepted = next(r for r in rows if r["status"] == "accepted")
    assert accepted["acceptance_reason"] == "compensating controls"
    assert accepted["accepted_by"] == tenant.ids["approver"]
    assert next(r for r in rows if r["status"] == "resolved")["rule"] == "deployment.unapproved"


def test_only_the_inventory_takes_as_of(api: Api, tenant: Tenant) -> None:
    body = {"kind": "findings", "format": "csv", "as_of": "2026-03-31"}
    answer = api.post("/v1/exports", tenant.keys["auditor"], body)
    assert answer.status == 422, answer.json
    assert answer.json["errors"][0]["field"] == "body.as_of"
    assert items_of(api, "/v1/exports", tenant.keys["auditor"]) == []


def test_an_as_of_no_calendar_has_is_a_422_naming_it(api: Api, tenant: Tenant) -> None:
    body = {"kind": "inventory", "format": "csv", "as_of": "2026-02-30"}
    answer = api.post("/v1/exports", tenant.keys["auditor"], body)
    assert answer.status == 422, answer.json
    assert answer.json["errors"][0]["field"] == "body.as_of"


def test_a_redelivered_request_writes_the_file_once(
    api: Api, tenant: Tenant, dispatcher: Any, aws: dict[str, str]
) -> None:
    from app import app

    new_model(api, tenant)
    export = requested(api, tenant, format="csv")
    dispatcher.streams[0].pump_once()  # the relay: the request reaches the exporter's queue
    [envelope] = _waiting(aws)
    record = {"messageId": "m1", "body": json.dumps(envelope), "attributes": {}}
    assert app.handler_map["run_export"]({"Records": [record]}, None) == {"batchItemFailures": []}
    first = completed(api, tenant, export["id"])
    # WHEN the same message comes again
    assert app.handler_map["run_export"]({"Records": [record]}, None) == {"batchItemFailures": []}
    # THEN nothing is written again: one object version, the same record
    again = completed(api, tenant, export["id"])
    assert {k: v for k, v in again.items() if not k.startswith("download_")} == {
        k: v for k, v in first.items() if not k.startswith("download_")
    }


def _waiting(aws: dict[str, str]) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = aws["CUSTOS_EXPORT_REQUESTS_QUEUE_URL"]
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_requesting_an_export_is_audited_and_calls_no_queue(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    export = requested(api, tenant, format="jsonl")
    events = api.get("/v1/audit-events", tenant.keys["auditor"]).json["items"]
    [entry] = [e for e in events if e["action"] == "export.requested"]
    assert entry["subject"] == {"type": "export", "id": export["id"]}
    assert entry["after"]["kind"] == "inventory" and entry["after"]["format"] == "jsonl"
    # the event waits in the outbox; nothing reached the queue from the request
    assert _waiting(aws) == [] and verification_messages(aws) == []


def test_every_role_of_the_tenant_may_export_the_inventory_and_list_exports(
    api: Api, tenant: Tenant
) -> None:
    made = [requested(api, tenant, role=role, format="csv")["id"] for role in TENANT_ROLES]
    for role in TENANT_ROLES:
        listed = [e["id"] for e in items_of(api, "/v1/exports", tenant.keys[role])]
        assert listed == list(reversed(made))  # newest first


def test_another_tenants_export_is_a_404_everywhere(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    export = requested(api, tenant, format="csv")
    answer = api.get(f"/v1/exports/{export['id']}", other_tenant.keys["auditor"])
    assert answer.status == 404
    assert items_of(api, "/v1/exports", other_tenant.keys["auditor"]) == []
    assert api.get("/v1/exports/exp_" + "0" * 26, tenant.keys["auditor"]).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "inventory", "format": "xlsx"}, "body.format"),
        ({"kind": "ledger", "format": "csv"}, "body.kind"),
        ({"kind": "inventory", "format": "csv", "as_of": "last week"}, "body.as_of"),
        ({"kind": "inventory", "format": "csv", "extra": 1}, "body.extra"),
        ({"format": "csv"}, "body.kind"),
    ],
)
def test_a_bad_export_request_is_a_400_naming_the_field_and_stores_nothing(
    api: Api, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    answer = api.post("/v1/exports", tenant.keys["auditor"], body)
    assert answer.status == 400, answer.json
    assert field in [e["field"] for e in answer.json["errors"]]
    assert items_of(api, "/v1/exports", tenant.keys["auditor"]) == []


def test_an_idempotency_key_replays_the_first_request(api: Api, tenant: Tenant) -> None:
    body = {"kind": "inventory", "format": "csv"}
    headers = {"Idempotency-Key": "export-1"}
    first = api.post("/v1/exports", tenant.keys["auditor"], body, headers=headers)
    again = api.post("/v1/exports", tenant.keys["auditor"], body, headers=headers)
    assert first.status == again.status == 202
    assert again.json["id"] == first.json["id"]
    assert len(items_of(api, "/v1/exports", tenant.keys["auditor"])) == 1


def test_a_file_larger_than_a_part_is_streamed_in_parts_with_its_digest(
    aws: dict[str, str],
) -> None:
    from chalicelib.config import MIB, settings
    from chalicelib.store.export_files import ExportFiles
    from chalicelib.store.keys import TenantKeys

    # GIVEN pages of bytes adding up to more than two parts (8 MiB each)
    pages = [bytes([n]) * (3 * MIB) for n in range(6)]  # 18 MiB
    files = ExportFiles(TenantKeys("ten_" + "1" * 26))
    key = files.key("exp_" + "1" * 26, "csv")
    # WHEN they are written as one file
    written = files.write(key, iter(pages), "text/csv")
    # THEN it went up in three parts, and its size and digest are the bytes'
    content = b"".join(pages)
    assert settings().exports.part_bytes == 8 * MIB and written.parts == 3
    assert written.byte_size == len(content)
    assert written.sha256 == hashlib.sha256(content).hexdigest()
    stored = boto3.client("s3").get_object(Bucket=settings().exports.bucket, Key=key)
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == written.sha256


def test_an_export_key_never_leaves_the_tenants_prefix() -> None:
    from chalicelib.store.export_files import ExportFiles
    from chalicelib.store.keys import TenantKeys

    files = ExportFiles(TenantKeys("ten_" + "1" * 26))
    assert files.key("exp_1", "csv") == f"tenants/ten_{'1' * 26}/exports/exp_1.csv"
    with pytest.raises(ValueError, match="is not an export key of tenant"):
        files.key("../../ten_other/exports/exp_1", "csv")
    with pytest.raises(ValueError, match="is not an export key of tenant"):
        files.presign_get("tenants/ten_other/exports/exp_1.csv", "x.csv", 60)


def test_a_kind_open_to_auditors_only_is_refused_hidden_and_unreadable_to_others(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.exports import KINDS, ExportKindName
    from chalicelib.domain.roles import Role

    # GIVEN the findings kind open only to auditors and admins, as the audit trail's will be
    findings = KINDS[ExportKindName.FINDINGS]
    closed = findings._replace(roles=frozenset({Role.AUDITOR, Role.ADMIN}))
    monkeypatch.setitem(KINDS, ExportKindName.FINDINGS, closed)
    mine = requested(api, tenant, role="auditor", kind="findings", format="csv")
    shared = requested(api, tenant, role="auditor", format="csv")
    # WHEN a developer requests one, reads the auditor's, lists the exports
    refused = api.post(
        "/v1/exports", tenant.keys["developer"], {"kind": "findings", "format": "csv"}
    )
    read = api.get(f"/v1/exports/{mine['id']}", tenant.keys["developer"])
    listed = [e["id"] for e in items_of(api, "/v1/exports", tenant.keys["developer"])]
    # THEN the request is a 403 naming the roles, the export is not theirs to read, and
    # the list shows only the inventory export
    assert refused.status == 403 and "admin, auditor" in refused.json["detail"]
    assert read.status == 403
    assert listed == [shared["id"]]
    assert {e["id"] for e in items_of(api, "/v1/exports", tenant.keys["admin"])} == {
        mine["id"],
        shared["id"],
    }
