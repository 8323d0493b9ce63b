"""Writing a tenant's audit trail as an export directory an examiner verifies offline.

The directory (docs/audit-evidence.md): `events.jsonl` (one event a line, in its canonical
form with its hash; in an evidence pack, the events between those it carries whole as
`{seq, prev_hash, hash}` links), `anchors.jsonl` (the anchors read back from the
Object Lock bucket, not from the table), `manifest.json` (what the export holds and the
SHA-256 of each file), and copies of `verify.py` and `canonical.py`, so
`python verify.py .` checks it with nothing else installed.

The export framework (`POST /v1/exports`, kinds `audit` and `evidence`) calls
`write_export` in its worker and packs the directory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from chalicelib.audit import verify
from chalicelib.audit.canonical import GENESIS_HASH, canonical
from chalicelib.domain.actors import Actor
from chalicelib.store.anchors import bucket
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.writer import iso, now

PAGE = 500
AUDIT_DIR = Path(verify.__file__).resolve().parent
COPIED = ("verify.py", "canonical.py")


def write_export(
    actor: Actor,
    directory: Path,
    *,
    carry: Iterable[int] | None = None,
    span: tuple[int, int] | None = None,
    extra: Iterable[str] = (),
) -> dict[str, Any]:
    """Write the tenant's chain into `directory` (created if need be); returns the manifest.

    Without `carry`, the whole chain from seq 1 to the head as it is now (kind `audit`).
    With `carry`, an evidence pack (kind `evidence`): those events whole, the others from
    the first of them to the anchor covering the last as links, so the pack is checked up
    to a hash held under Object Lock without disclosing the events in between. With
    `span` (first, last), the events of that range whole and the links after it to the
    covering anchor, in the pack's form (a range from seq 1 to the head is kind `audit`);
    memory stays flat however long the range. `extra` names files already written into
    `directory` that the manifest lists (with their SHA-256) beside the verifier's own."""
    store = for_actor(actor)
    head = store.audit.head()
    head_seq = int(head["seq"]) if head else 0
    whole: Callable[[int], bool] | None = None
    if span is not None:
        low, high = max(1, span[0]), min(head_seq, span[1])
        if low > high:
            raise ValueError("a range of the chain holds at least one event")
        if (low, high) != (1, head_seq):
            whole = lambda seq: low <= seq <= high  # noqa: E731
        first, last_whole = low, high
    elif carry is not None:
        carried = {int(s) for s in carry if 1 <= int(s) <= head_seq}
        if not carried:
            raise ValueError("an evidence pack carries at least one event of the chain")
        whole = carried.__contains__
        first, last_whole = min(carried), max(carried)
    else:
        first, last_whole = 1, head_seq
    anchors = _anchors(store, first)
    last = head_seq if whole is None else _covered_to(last_whole, anchors)
    anchors = [a for a in anchors if a["seq"] <= last]
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / verify.EVENTS).open("w", encoding="utf-8", newline="\n") as out:
        prev_hash, last_hash, count = _write_events(store, out, first, last, whole)
    with (directory / verify.ANCHORS).open("w", encoding="utf-8", newline="\n") as out:
        for anchor in anchors:
            out.write(canonical(anchor) + "\n")
    for name in COPIED:
        shutil.copyfile(AUDIT_DIR / name, directory / name)
    manifest = {
        "format": verify.FORMAT,
        "kind": "audit" if whole is None else "evidence",
        "tenant_id": store.tenant_id,
        "created_at": iso(now()),
        "first_seq": first,
        "prev_hash": prev_hash,
        "last_seq": last,
        "last_hash": last_hash,
        "events": count,
        "anchors": len(anchors),
        "files": {name: _digest(directory / name) for name in (*verify.FILES, *extra)},
    }
    (directory / verify.MANIFEST).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest


def _covered_to(last_carried: int, anchors: list[dict[str, Any]]) -> int:
    """The sequence number of the first anchor at or after `last_carried` (else itself)."""
    return min((a["seq"] for a in anchors if a["seq"] >= last_carried), default=last_carried)


def _write_events(
    store: TenantStore, out: IO[str], first: int, last: int, whole: Callable[[int], bool] | None
) -> tuple[str, str, int]:
    """Write records `first`..`last`; returns (prev_hash of the first, last hash, count)."""
    prev_hash, last_hash, count = GENESIS_HASH, GENESIS_HASH, 0
    for item in _events(store, first, last):
        event = json.loads(item["body"])
        if count == 0:
            prev_hash = str(event["prev_hash"])
        if whole is None or whole(int(item["seq"])):
            record = {**event, "hash": item["hash"]}
        else:
            record = {"seq": event["seq"], "prev_hash": event["prev_hash"], "hash": item["hash"]}
        out.write(canonical(record) + "\n")
        last_hash, count = str(item["hash"]), count + 1
    return prev_hash, last_hash, count


def _events(store: TenantStore, first: int, last: int) -> Iterator[dict[str, Any]]:
    start = None
    while True:
        items, start = store.audit.list_page(PAGE, start, first)
        for item in items:
            if int(item["seq"]) > last:
                return
            yield item
        if not start:
            return


def _anchors(store: TenantStore, first: int) -> list[dict[str, Any]]:
    """Every anchor of the tenant from seq `first` on, read back from the locked objects
    themselves (several versions of one key each count)."""
    found = []
    for key, version_id in store.anchors.object_versions():
        seq = int(key.rsplit("/", 1)[-1].removesuffix(".json"))
        if seq < first:
            continue
        body = store.anchors.read_object(key, version_id)
        if body.get("tenant_id") != store.tenant_id:
            continue
        fields = ("seq", "hash", "chain_time", "anchored_at", "retain_until")
        found.append(
            {
                **{name: body.get(name) for name in fields},
                "bucket": bucket(),
                "key": key,
                "version_id": version_id,
            }
        )
    return sorted(found, key=lambda a: (a["seq"], str(a["anchored_at"])))


def _digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            sha.update(block)
    return {"sha256": sha.hexdigest(), "bytes": path.stat().st_size}
