"""The exporter's archives: kinds `audit` and `evidence` (`domain.exports.KINDS`).

Each is the export directory the offline verifier checks (`services/audit_export.py`,
docs/audit-evidence.md), written in the function's temporary space, zipped there
(files at the archive's root) and streamed to the exports bucket as one object, so
`unzip -d pack export.zip && python pack/verify.py pack` answers `valid`. The chain is
read a page at a time and every file is written as it is read: memory stays flat however
long the range (the temporary space, not memory, holds the directory).

- `audit`: the events of a range by sequence (`from_seq`..`to_seq`, each end optional)
  or by commit time (`from`..`to`): the whole chain is kind `audit`; a part of it is
  written in the pack's form (links after its last event up to the covering anchor).
- `evidence`: `evidence.json` (listed in the manifest with its SHA-256) holding a model
  version's records as stored: the model (its inventory record), the version (model
  card, lineage), its artifacts (digests, S3 version ids), its approval requests
  (stages, decisions, evidence digests, comments), deployments, findings with their
  acceptances; and the audit events whose subject is any of them, whole, the rest of the
  chain between them as links.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.domain.actors import Actor
from chalicelib.domain.exports import EmptyRangeError, Export, ExportKindName, ExportParams
from chalicelib.services.audit_export import write_export
from chalicelib.store.scope import TenantStore
from chalicelib.store.writer import iso, now

Item = dict[str, Any]
PAGE = 100  # records of one kind a read
CHAIN_PAGE = 500  # audit events a read, walking the chain
BLOCK = 1024 * 1024  # bytes of the archive a chunk streamed up
EVIDENCE = "evidence.json"


def write(actor: Actor, store: TenantStore, export: Export, key: str) -> Item:
    """Write the export's archive to `key`; what the export records of it."""
    params = export.params or ExportParams()
    with tempfile.TemporaryDirectory(prefix="custos-export-") as scratch:
        directory = Path(scratch) / "pack"
        if export.kind is ExportKindName.EVIDENCE:
            manifest = _evidence(actor, store, params, directory)
        else:
            manifest = write_export(actor, directory, span=_span(store, params))
        archive = Path(scratch) / "pack.zip"
        _zip(directory, archive)
        done = store.export_files.write(key, _blocks(archive), "application/zip")
    return {
        "row_count": int(manifest["events"]),
        "byte_size": done.byte_size,
        "sha256": done.sha256,
        "object_key": key,
    }


# --- audit: the range --------------------------------------------------------------


def _span(store: TenantStore, params: ExportParams) -> tuple[int, int]:
    """The range's first and last sequence numbers (a time range found by walking the
    chain from its start, stopping past `to`)."""
    head = store.audit.head()
    head_seq = int(head["seq"]) if head else 0
    if params.from_time is None and params.to_time is None:
        return params.from_seq or 1, params.to_seq or head_seq
    first, last = 0, 0
    for seq, event in _chain(store):
        moment = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
        if params.to_time and moment > params.to_time:
            break
        if params.from_time and moment < params.from_time:
            continue
        first, last = first or seq, seq
    if not first:
        raise EmptyRangeError("no event of the chain was committed in the range")
    return first, last


def _chain(store: TenantStore) -> Iterator[tuple[int, Item]]:
    """Every event of the chain in sequence order, a page at a time: (seq, event)."""
    start = None
    while True:
        items, start = store.audit.list_page(CHAIN_PAGE, start, 1)
        for item in items:
            yield int(item["seq"]), json.loads(item["body"])
        if not start:
            return


# --- evidence: the version's records and the events about them ----------------------


def _evidence(actor: Actor, store: TenantStore, params: ExportParams, directory: Path) -> Item:
    model_id, number = str(params.model_id), int(params.version_number or 0)
    records = _records(store, model_id, number)
    directory.mkdir(parents=True, exist_ok=True)
    subjects = _subjects(records)
    artifact_prefix = f"{model_id}/versions/{number}/artifacts/"
    carried = [
        seq
        for seq, event in _chain(store)
        if (event["subject"]["type"], event["subject"]["id"]) in subjects
        or (
            event["subject"]["type"] == "artifact"
            and str(event["subject"]["id"]).startswith(artifact_prefix)
        )
    ]
    pack = {
        "model_id": model_id,
        "version_number": number,
        "written_at": iso(now()),
        "audit_seqs": carried,
        **records,
    }
    (directory / EVIDENCE).write_text(
        json.dumps(pack, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    return write_export(actor, directory, carry=carried, extra=(EVIDENCE,))


def _records(store: TenantStore, model_id: str, number: int) -> dict[str, Any]:
    """The version's records as stored (storage keys left out), by section."""
    model, version = (
        store.inventory.get_model(model_id),
        store.inventory.get_version(model_id, number),
    )
    if model is None or version is None:
        raise LookupError(f"no version {number} of model {model_id}")

    def of_version(item: Item) -> bool:
        return item.get("version_number") in (number, None)

    approvals = _pages(
        lambda n, s: store.approvals.list_page(n, s, {"model_id": model_id}),
        lambda i: i.get("version_number") == number,
    )
    return {
        "model": _shown(model),
        "version": _shown(version),
        "artifacts": _pages(lambda n, s: store.artifacts.list_page(model_id, number, n, s)),
        "approval_requests": approvals,
        "deployments": _pages(lambda n, s: store.deployments.list_page(model_id, number, n, s)),
        "findings": _pages(
            lambda n, s: store.findings.list_page(n, s, model_id=model_id), of_version
        ),
    }


Pager = Callable[[int, dict[str, Any] | None], tuple[list[Item], dict[str, Any] | None]]


def _pages(fetch: Pager, keep: Callable[[Item], bool] = lambda _: True) -> list[Item]:
    found: list[Item] = []
    start = None
    while True:
        items, start = fetch(PAGE, start)
        found += [_shown(i) for i in items if keep(i)]
        if not start:
            return found


def _shown(item: Item) -> Item:
    """A record without its storage attributes (keys, index keys)."""
    return {k: v for k, v in item.items() if k not in ("pk", "sk") and not k.startswith("gsi")}


def _subjects(records: dict[str, Any]) -> set[tuple[str, str]]:
    """The audit subjects of the pack's records."""
    found = {("model", str(records["model"]["id"])), ("version", str(records["version"]["id"]))}
    for section, subject in (
        ("approval_requests", "approval_request"),
        ("deployments", "deployment"),
        ("findings", "finding"),
    ):
        found |= {(subject, str(r["id"])) for r in records[section]}
    return found


# --- the archive --------------------------------------------------------------------


def _zip(directory: Path, archive: Path) -> None:
    """Zip the directory's files at the archive's root (deflated, file by file)."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for path in sorted(directory.iterdir()):
            out.write(path, arcname=path.name)


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(BLOCK), b"")
