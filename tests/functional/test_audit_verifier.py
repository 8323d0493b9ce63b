"""The offline verifier, on export directories written from a real chain (events from the
table, anchors read back from the Object Lock bucket): a clean export is `valid`, and every
class of damage is caught at the sequence number it touches.

Most damage here is done the way a forger with the export in hand would do it: the
manifest is resealed (its digests recomputed), so the chain and the anchors must catch it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.audit import verify
from chalicelib.audit.canonical import canonical, chain_hash
from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.services.anchors import anchor_tenant
from chalicelib.services.audit_export import write_export
from tests.conftest import Api, Tenant, new_model

ROOT = Path(__file__).resolve().parents[2]


def system(tenant: Tenant) -> Actor:
    return Actor.of_system(SystemPart.SCHEDULER, "test", tenant.id)


@pytest.fixture
def chain(api: Api, tenant: Tenant) -> Tenant:
    """A tenant whose chain is anchored at some point, with events after the anchor."""
    for name in ("one", "two", "three"):
        new_model(api, tenant, name=name)
    assert anchor_tenant(system(tenant)) is not None
    new_model(api, tenant, name="four")
    assert anchor_tenant(system(tenant)) is not None
    new_model(api, tenant, name="after the last anchor")
    return tenant


@pytest.fixture
def export(chain: Tenant, tmp_path: Path) -> Path:
    directory = tmp_path / "export"
    write_export(system(chain), directory)
    return directory


def lines(directory: Path) -> list[str]:
    return (directory / verify.EVENTS).read_text().splitlines()


def rewrite(directory: Path, new_lines: list[str], *, reseal: bool = True) -> None:
    (directory / verify.EVENTS).write_text("".join(f"{line}\n" for line in new_lines))
    if reseal:
        resealed(directory)


def resealed(directory: Path, **changes: Any) -> None:
    """Recompute the manifest's digests, as a forger holding the export would."""
    manifest = json.loads((directory / verify.MANIFEST).read_text())
    records = lines(directory)
    manifest.update(events=len(records), last_seq=json.loads(records[-1])["seq"])
    manifest.update(last_hash=json.loads(records[-1])["hash"], **changes)
    for name in verify.FILES:
        digest = hashlib.sha256((directory / name).read_bytes()).hexdigest()
        manifest["files"][name]["sha256"] = digest
    (directory / verify.MANIFEST).write_text(json.dumps(manifest))


def first_damage(directory: Path) -> verify.Damage:
    report = verify.verify(directory)
    assert not report.valid
    assert report.first is not None
    return report.first


def seq_of(line: str) -> int:
    return int(json.loads(line)["seq"])


def test_a_clean_export_is_valid_and_its_own_copy_of_the_verifier_says_so(
    export: Path, chain: Tenant
) -> None:
    # The module, from a checkout ...
    module = subprocess.run(
        [sys.executable, "-m", "chalicelib.audit.verify", str(export)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert module.returncode == 0, module.stdout + module.stderr
    assert module.stdout.splitlines()[0] == "valid"
    assert "not covered by an anchor yet" in module.stdout
    # ... and the copy inside the export, with nothing of Custos on the path
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    alone = subprocess.run(
        [sys.executable, "-I", "verify.py", "."],
        cwd=export,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert alone.stdout.splitlines()[0] == "valid"
    manifest = json.loads((export / verify.MANIFEST).read_text())
    assert manifest["kind"] == "audit" and manifest["tenant_id"] == chain.id
    assert manifest["anchors"] == 2 and manifest["events"] == len(lines(export))


def test_the_export_carries_the_events_as_the_api_answers_them(
    api: Api, export: Path, chain: Tenant
) -> None:
    fields = ("seq", "id", "action", "subject", "before", "after", "prev_hash", "hash")
    exported = [json.loads(line) for line in lines(export)]
    answered = api.get("/v1/audit-events?limit=100", chain.keys["auditor"]).json["items"]
    assert [[e[f] for f in fields] for e in answered[: len(exported)]] == [
        [e[f] for f in fields] for e in exported
    ]
    anchors = [json.loads(line) for line in (export / verify.ANCHORS).read_text().splitlines()]
    listed = api.get("/v1/audit/anchors", chain.keys["auditor"]).json["items"]
    assert [(a["seq"], a["hash"], a["version_id"]) for a in anchors] == [
        (a["seq"], a["hash"], a["version_id"]) for a in listed
    ]


def test_one_byte_changed_in_an_event_is_caught_at_its_sequence_number(export: Path) -> None:
    records = lines(export)
    records[4] = records[4].replace('"action":"', '"action":"X', 1)
    rewrite(export, records)
    damage = first_damage(export)
    assert (damage.kind, damage.seq, damage.line) == ("altered", seq_of(records[4]), 5)


def test_one_byte_changed_without_resealing_names_the_event_and_the_manifest(
    export: Path,
) -> None:
    records = lines(export)
    records[2] = records[2].replace('"time":"2', '"time":"3', 1)
    rewrite(export, records, reseal=False)
    report = verify.verify(export)
    assert report.first is not None
    assert (report.first.kind, report.first.seq) == ("altered", 3)
    assert ("manifest", verify.EVENTS) in {(d.kind, d.file) for d in report.damage}


def test_a_deleted_event_is_caught_where_it_is_missing(export: Path) -> None:
    records = lines(export)
    del records[6]
    rewrite(export, records)
    damage = first_damage(export)
    assert (damage.kind, damage.seq) == ("missing", 7)


def test_two_swapped_events_are_caught_at_the_first_of_them(export: Path) -> None:
    records = lines(export)
    records[3], records[4] = records[4], records[3]
    rewrite(export, records)
    damage = first_damage(export)
    assert (damage.kind, damage.seq, damage.line) == ("reordered", 4, 4)


def test_a_forged_event_inserted_with_a_recomputed_hash_is_caught(export: Path) -> None:
    # GIVEN a forger who makes event 6 anew, linked to event 5 and hashed correctly
    records = lines(export)
    genuine = json.loads(records[5])
    forged = {k: v for k, v in genuine.items() if k != "hash"}
    forged["action"] = "model.deleted"
    forged["hash"] = chain_hash(forged["prev_hash"], canonical(forged))
    rewrite(export, [*records[:5], canonical(forged), *records[5:]])
    # THEN the genuine event 6 that follows betrays it
    damage = first_damage(export)
    assert (damage.kind, damage.seq, damage.line) == ("inserted", 6, 7)


def test_a_chain_rewritten_from_an_event_on_is_caught_by_the_anchor(export: Path) -> None:
    # GIVEN a forger who alters event 3 and recomputes every hash after it
    records = [json.loads(line) for line in lines(export)]
    records[2]["action"] = "model.deleted"
    link = records[1]["hash"]
    for record in records[2:]:
        record["prev_hash"] = link
        body = {k: v for k, v in record.items() if k != "hash"}
        record["hash"] = link = chain_hash(link, canonical(body))
    rewrite(export, [canonical(r) for r in records])
    # THEN the chain holds together, and the first anchor after event 3 does not match it
    damage = first_damage(export)
    first_anchor = json.loads((export / verify.ANCHORS).read_text().splitlines()[0])
    assert (damage.kind, damage.seq, damage.file) == (
        "rewritten",
        first_anchor["seq"],
        verify.ANCHORS,
    )


def test_a_truncated_tail_is_caught_by_the_last_anchor(export: Path) -> None:
    # GIVEN an export cut off before its last two anchors, the manifest resealed to match
    first, last = [json.loads(a) for a in (export / verify.ANCHORS).read_text().splitlines()]
    kept = [line for line in lines(export) if seq_of(line) < first["seq"]]
    rewrite(export, kept)
    # THEN the first anchor past the end names where the chain really reached
    damage = first_damage(export)
    assert (damage.kind, damage.seq) == ("truncated", first["seq"])
    assert first["version_id"] in damage.detail
    assert last["seq"] > first["seq"]


def test_a_file_that_differs_from_the_manifest_is_named(export: Path) -> None:
    with (export / "canonical.py").open("a") as handle:
        handle.write("\n# edited\n")
    damage = first_damage(export)
    assert (damage.kind, damage.file, damage.seq) == ("manifest", "canonical.py", None)
    answer = subprocess.run(
        [sys.executable, "-m", "chalicelib.audit.verify", str(export)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 1
    assert answer.stdout.startswith("invalid: canonical.py: manifest:")


def test_a_manifest_claiming_more_events_than_the_export_holds_is_caught(export: Path) -> None:
    resealed(export)
    manifest = json.loads((export / verify.MANIFEST).read_text())
    manifest["last_seq"] += 3
    (export / verify.MANIFEST).write_text(json.dumps(manifest))
    damage = first_damage(export)
    assert (damage.kind, damage.file) == ("manifest", verify.MANIFEST)
    assert "last_seq" in damage.detail


def test_the_command_prints_the_first_bad_sequence_number(export: Path) -> None:
    records = lines(export)
    del records[1]
    rewrite(export, records)
    answer = subprocess.run(
        [sys.executable, "verify.py", "."], cwd=export, capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 1
    assert answer.stdout.startswith("invalid: seq 2, line 2 of events.jsonl: missing:")


def test_an_evidence_pack_carries_links_between_its_events_up_to_the_covering_anchor(
    chain: Tenant, tmp_path: Path
) -> None:
    # GIVEN a pack of events 3 and 6: the events between, and up to the anchor covering
    # event 6, are only links
    pack = tmp_path / "pack"
    manifest = write_export(system(chain), pack, carry=[3, 6])
    records = [json.loads(line) for line in lines(pack)]
    anchors = [json.loads(line) for line in (pack / verify.ANCHORS).read_text().splitlines()]
    assert manifest["kind"] == "evidence" and manifest["first_seq"] == 3
    assert [r["seq"] for r in records] == list(range(3, anchors[-1]["seq"] + 1))
    whole = [r["seq"] for r in records if set(r) != verify.LINK_FIELDS]
    assert whole == [3, 6]
    assert anchors and anchors[0]["seq"] >= 6
    # THEN it verifies, up to that anchor
    report = verify.verify(pack)
    assert report.valid, report.damage
    assert report.anchored_to == anchors[-1]["seq"]

    # WHEN a link is forged THEN the next record no longer links to it
    forged = [canonical(r) for r in records]
    forged[1] = canonical({**records[1], "hash": "f" * 64})
    rewrite(pack, forged)
    damage = first_damage(pack)
    assert (damage.kind, damage.seq) == ("broken-link", 5)


def test_a_link_record_in_a_whole_chain_export_is_refused(export: Path) -> None:
    records = [json.loads(line) for line in lines(export)]
    records[3] = {k: records[3][k] for k in verify.LINK_FIELDS}
    rewrite(export, [canonical(r) for r in records])
    damage = first_damage(export)
    assert (damage.kind, damage.seq) == ("malformed", 4)
