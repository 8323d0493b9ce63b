"""Audit and evidence exports end to end under moto: requested over the API by an auditor,
written by the exporter consumer as a zip of the verifier's directory, downloaded by the
presigned URL, unpacked and verified by the offline verifier run as its own process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Api, Tenant, new_model
from tests.functional.artifact_world import dispatcher, drain
from tests.functional.report_world import seeded
from tests.functional.route_fixtures import items_of
from tests.functional.test_anchors import anchor_all

__all__ = ["dispatcher"]  # fixtures
CHECKOUT = Path(__file__).resolve().parents[2]


def exported(
    api: Api, tenant: Tenant, dispatcher: Any, role: str = "auditor", **body: Any
) -> dict[str, Any]:
    """Request an export (kind audit unless told), run the exporter, read it completed."""
    answer = api.post("/v1/exports", tenant.keys[role], {"kind": "audit", "format": "zip", **body})
    assert answer.status == 202, answer.json
    drain(dispatcher)
    done = api.get(f"/v1/exports/{answer.json['id']}", tenant.keys[role])
    assert done.status == 200 and done.json["status"] == "completed", done.json
    return dict(done.json)


def unpacked(export: dict[str, Any], into: Path) -> Path:
    """Download the archive by its URL and unzip it into a directory of its own."""
    got = requests.get(export["download_url"], timeout=30)
    assert got.status_code == 200, got.text
    directory = into / export["id"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        archive.extractall(directory)
    return directory


def verified(directory: Path, *, copied: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the verifier as an examiner would: the package's, or the copy in the export
    (isolated: nothing of Custos on its path)."""
    if copied:
        command = [sys.executable, "-I", str(directory / "verify.py"), str(directory)]
        return subprocess.run(command, capture_output=True, text=True, cwd=directory.parent)
    command = [sys.executable, "-m", "chalicelib.audit.verify", str(directory)]
    return subprocess.run(command, capture_output=True, text=True, cwd=CHECKOUT)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_an_audit_export_unpacks_into_a_directory_both_verifiers_call_valid(
    api: Api, tenant: Tenant, dispatcher: Any, aws: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN a tenant with a trail, anchored
    seeded(api, tenant)
    anchor_all(aws)
    # WHEN an auditor exports the whole trail and downloads it
    export = exported(api, tenant, dispatcher)
    directory = unpacked(export, tmp_path)
    # THEN the archive is the verifier's directory, and both verifiers answer valid
    assert sorted(p.name for p in directory.iterdir()) == [
        "anchors.jsonl",
        "canonical.py",
        "events.jsonl",
        "manifest.json",
        "verify.py",
    ]
    for copied in (False, True):
        run = verified(directory, copied=copied)
        assert run.returncode == 0 and run.stdout.startswith("valid"), run.stdout + run.stderr
    manifest = json.loads((directory / "manifest.json").read_text())
    assert (manifest["kind"], manifest["first_seq"]) == ("audit", 1)
    assert export["row_count"] == manifest["events"] == manifest["last_seq"]
    assert manifest["anchors"] >= 1 and export["sha256"] and export["byte_size"]


def test_one_byte_changed_in_the_downloaded_events_is_invalid_at_its_seq(
    api: Api, tenant: Tenant, dispatcher: Any, aws: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN a downloaded export of the trail
    seeded(api, tenant)
    anchor_all(aws)
    directory = unpacked(exported(api, tenant, dispatcher), tmp_path)
    # WHEN one byte of the event of seq 3 is changed (the first letter of its action)
    events = directory / "events.jsonl"
    content = bytearray(events.read_bytes())
    line_start = sum(len(line) for line in content.splitlines(keepends=True)[:2])
    at = content.index(b'"action":"', line_start) + len(b'"action":"')
    content[at] = ord("X") if content[at] != ord("X") else ord("Y")
    events.write_bytes(bytes(content))
    # THEN both verifiers call it invalid at seq 3, line 3, altered
    for copied in (False, True):
        run = verified(directory, copied=copied)
        assert run.returncode == 1, run.stdout + run.stderr
        assert run.stdout.startswith("invalid: seq 3, line 3 of events.jsonl: altered"), run.stdout


def test_a_range_by_sequence_carries_its_events_and_links_up_to_the_covering_anchor(
    api: Api, tenant: Tenant, dispatcher: Any, aws: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN a trail anchored past seq 6
    seeded(api, tenant)
    anchor_all(aws)
    # WHEN seqs 4 to 6 are exported
    export = exported(api, tenant, dispatcher, from_seq=4, to_seq=6)
    directory = unpacked(export, tmp_path)
    # THEN seqs 4-6 are whole, the rest up to the anchor are links, and it verifies
    lines = records(directory / "events.jsonl")
    anchored = max(a["seq"] for a in records(directory / "anchors.jsonl"))
    assert [r["seq"] for r in lines] == list(range(4, anchored + 1))
    assert all("action" in r for r in lines[:3])
    assert all(set(r) == {"seq", "prev_hash", "hash"} for r in lines[3:])
    assert export["params"] == {**empty_params(), "from_seq": 4, "to_seq": 6}
    run = verified(directory)
    assert run.returncode == 0 and run.stdout.startswith("valid"), run.stdout


def empty_params() -> dict[str, Any]:
    names = ("from_seq", "to_seq", "from", "to", "model_id", "version_number")
    return dict.fromkeys(names)


def test_a_range_by_time_holds_the_events_committed_in_it(
    api: Api, tenant: Tenant, dispatcher: Any, tmp_path: Path
) -> None:
    # GIVEN a trail written today
    seeded(api, tenant)
    today = api.get("/v1/audit-events?limit=1", tenant.keys["auditor"]).json["items"][0]["time"]
    # WHEN the auditor exports today's events
    export = exported(api, tenant, dispatcher, **{"from": today[:10], "to": today[:10]})
    directory = unpacked(export, tmp_path)
    # THEN the export starts at the first event and verifies
    assert records(directory / "events.jsonl")[0]["seq"] == 1
    assert export["params"]["from"].startswith(today[:10] + "T00:00:00")
    run = verified(directory)
    assert run.returncode == 0 and run.stdout.startswith("valid"), run.stdout


def test_an_evidence_pack_of_an_approved_version_holds_every_section_and_verifies(
    api: Api, tenant: Tenant, dispatcher: Any, aws: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN an approved version in production, with findings (one accepted), anchored
    world = seeded(api, tenant)
    pd = world["pd"]
    anchor_all(aws)
    # WHEN the auditor exports its evidence pack
    export = exported(api, tenant, dispatcher, kind="evidence", model_id=pd["id"], version_number=1)
    directory = unpacked(export, tmp_path)
    # THEN it holds the version's records, by section
    pack = json.loads((directory / "evidence.json").read_text())
    assert pack["model"]["id"] == pd["id"] and pack["model"]["name"] == "PD"
    assert pack["version"]["number"] == 1 and pack["version"]["status"] == "approved"
    assert {"lineage", "model_card"} <= set(pack["version"])
    assert "artifacts" in pack
    (request,) = pack["approval_requests"]
    assert [s["role"] for s in request["stages"]] == ["validator", "approver"]
    assert all(s["decisions"] for s in request["stages"])
    (deployment,) = pack["deployments"]
    assert deployment["id"] == world["deployment"]["id"]
    assert sorted(f["severity"] for f in pack["findings"]) == ["high", "low", "medium"]
    accepted = next(f for f in pack["findings"] if f["status"] == "accepted")
    assert accepted["acceptance"]
    # AND the audit events about them are whole, the others between them links
    lines = records(directory / "events.jsonl")
    whole = [r for r in lines if "action" in r]
    assert [r["seq"] for r in whole] == pack["audit_seqs"]
    assert {"model.created", "version.created"} <= {r["action"] for r in whole}
    assert {r["subject"]["id"] for r in whole} >= {pd["id"], deployment["id"]}
    assert any(set(r) == {"seq", "prev_hash", "hash"} for r in lines)
    # AND the manifest lists the pack's records with their digest, and it verifies
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["kind"] == "evidence" and "evidence.json" in manifest["files"]
    for copied in (False, True):
        run = verified(directory, copied=copied)
        assert run.returncode == 0 and run.stdout.startswith("valid"), run.stdout + run.stderr
    # AND changing the pack's records is caught by the manifest's digest
    (directory / "evidence.json").write_text(json.dumps({**pack, "findings": []}))
    run = verified(directory)
    assert run.returncode == 1 and "evidence.json: manifest" in run.stdout, run.stdout


@pytest.mark.parametrize("kind", ["audit", "evidence"])
def test_a_developer_may_neither_request_nor_read_an_audit_or_evidence_export(
    api: Api, tenant: Tenant, kind: str
) -> None:
    model = new_model(api, tenant)
    body: dict[str, Any] = {"kind": kind, "format": "zip"}
    if kind == "evidence":
        api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
        body |= {"model_id": model["id"], "version_number": 1}
    refused = api.post("/v1/exports", tenant.keys["developer"], body)
    assert refused.status == 403 and "admin, auditor" in refused.json["detail"]
    made = [api.post("/v1/exports", tenant.keys[role], body) for role in ("auditor", "admin")]
    assert [m.status for m in made] == [202, 202], [m.json for m in made]
    read = api.get(f"/v1/exports/{made[0].json['id']}", tenant.keys["developer"])
    assert read.status == 403
    assert items_of(api, "/v1/exports", tenant.keys["developer"]) == []


def test_reading_an_audit_export_is_audited_and_the_list_hands_out_no_url(
    api: Api, tenant: Tenant, dispatcher: Any
) -> None:
    # GIVEN a completed audit export, read once by the auditor
    export = exported(api, tenant, dispatcher)
    # WHEN the trail is read
    trail = items_of(api, "/v1/audit-events", tenant.keys["auditor"])
    # THEN the read that handed out the URL is in it, naming the export and its digest
    reads = [e for e in trail if e["action"] == "audit.exported_read"]
    assert [(e["subject"]["id"], e["after"]["sha256"]) for e in reads] == [
        (export["id"], export["sha256"])
    ]
    # AND the list shows the export without a URL (its own read is the audited one)
    (listed,) = items_of(api, "/v1/exports", tenant.keys["auditor"])
    assert listed["id"] == export["id"] and listed["download_url"] is None


def test_another_tenants_version_or_export_is_a_404(
    api: Api, tenant: Tenant, other_tenant: Tenant, dispatcher: Any
) -> None:
    model = new_model(api, tenant)
    api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
    body = {"kind": "evidence", "format": "zip", "model_id": model["id"], "version_number": 1}
    theirs = api.post("/v1/exports", other_tenant.keys["auditor"], body)
    assert theirs.status == 404, theirs.json
    export = exported(api, tenant, dispatcher, **body)
    assert api.get(f"/v1/exports/{export['id']}", other_tenant.keys["auditor"]).status == 404
    missing = api.post("/v1/exports", tenant.keys["auditor"], {**body, "version_number": 9})
    assert missing.status == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"from_seq": 3, "to_seq": 2}, 422, "body.to_seq"),
        ({"to_seq": 10_000}, 422, "body.to_seq"),
        ({"from_seq": 1, "to": "2026-12-01"}, 422, "body.from"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, 422, "body.to"),
        ({"from": "2026-02-30"}, 422, "body.from"),
        ({"from": "yesterday"}, 400, "body.from"),
        ({"from_seq": 0}, 400, "body.from_seq"),
        ({"model_id": "mdl_" + "0" * 26}, 422, "body.model_id"),
        ({"format": "csv"}, 422, "body.format"),
        ({"kind": "evidence", "model_id": "mdl_" + "0" * 26}, 422, "body.version_number"),
        ({"kind": "evidence", "version_number": 1, "from_seq": 1}, 422, "body.from_seq"),
        ({"kind": "inventory", "format": "csv", "to_seq": 1}, 422, "body.to_seq"),
        ({"kind": "inventory", "format": "zip"}, 422, "body.format"),
    ],
)
def test_a_bad_range_or_subject_is_a_4xx_naming_the_field_and_stores_nothing(
    api: Api, tenant: Tenant, body: dict[str, Any], status: int, field: str
) -> None:
    new_model(api, tenant)  # a few events in the chain
    answer = api.post(
        "/v1/exports", tenant.keys["auditor"], {"kind": "audit", "format": "zip", **body}
    )
    assert answer.status == status, answer.json
    assert field in [e["field"] for e in answer.json["errors"]], answer.json
    assert items_of(api, "/v1/exports", tenant.keys["auditor"]) == []


def test_a_time_range_holding_no_event_fails_at_once_with_its_reason(
    api: Api, tenant: Tenant, dispatcher: Any
) -> None:
    # GIVEN a trail written today, and a range of days long before it
    new_model(api, tenant)
    body = {"kind": "audit", "format": "zip", "from": "2020-01-01", "to": "2020-01-02"}
    answer = api.post("/v1/exports", tenant.keys["auditor"], body)
    # WHEN the exporter runs
    drain(dispatcher)
    # THEN the export failed on its first run, saying why
    done = api.get(f"/v1/exports/{answer.json['id']}", tenant.keys["auditor"]).json
    assert done["status"] == "failed" and done["download_url"] is None
    assert "no event of the chain was committed in the range" in done["failure_reason"]
