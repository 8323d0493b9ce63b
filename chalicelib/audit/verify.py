"""Verify an exported audit trail offline, trusting nothing but this file and `canonical.py`.

    python -m chalicelib.audit.verify EXPORT_DIR      (from a Custos checkout)
    python verify.py EXPORT_DIR                        (the copy inside an export)

Standard library only: no AWS, no Custos service, no third-party package. It recomputes
the hash chain of `events.jsonl`, checks it against the Object Lock anchors of
`anchors.jsonl` and the SHA-256 digests of `manifest.json`, then prints `valid` (exit 0)
or the first bad sequence number and the kind of damage (exit 1; 2 when the directory
cannot be read at all). docs/audit-evidence.md specifies the format, so anyone can write
their own verifier instead of running this one.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

if __package__:  # part of the package: python -m chalicelib.audit.verify
    from chalicelib.audit.canonical import GENESIS_HASH, canonical, chain_hash
else:  # the copy inside an export, beside its canonical.py: python verify.py DIR
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # also under python -I
    from canonical import (  # type: ignore[no-redef]
        GENESIS_HASH,
        canonical,
        chain_hash,
    )

FORMAT = "custos-audit-export/1"
EVENTS = "events.jsonl"
ANCHORS = "anchors.jsonl"
MANIFEST = "manifest.json"
FILES = (EVENTS, ANCHORS, "verify.py", "canonical.py")  # each listed in the manifest
KINDS = ("audit", "evidence")  # the whole chain; an evidence pack (events and links)
LINK_FIELDS = frozenset({"seq", "prev_hash", "hash"})


class Damage(NamedTuple):
    """One way the export fails: `kind` names the class of damage (docs/audit-evidence.md)."""

    kind: str  # altered, broken-link, missing, reordered, inserted, malformed, truncated,
    # rewritten (the chain differs from an anchor), manifest
    detail: str
    seq: int | None = None  # the first sequence number the damage touches
    line: int | None = None  # its line in the file (1-based)
    file: str = EVENTS

    def sentence(self) -> str:
        where = [f"seq {self.seq}"] if self.seq is not None else []
        if self.line is not None:
            where.append(f"line {self.line} of {self.file}")
        elif self.seq is None:
            where.append(self.file)
        return f"{', '.join(where)}: {self.kind}: {self.detail}"


class Report(NamedTuple):
    """What verifying an export found."""

    damage: list[Damage]
    notes: list[str]
    first_seq: int = 0
    last_seq: int = 0
    anchored_to: int = 0  # the last sequence number an anchor vouches for

    @property
    def valid(self) -> bool:
        return not self.damage

    @property
    def first(self) -> Damage | None:
        """The damage to report: the lowest sequence number, then the manifest's."""
        found = sorted(self.damage, key=lambda d: (d.seq is None, d.seq or 0, d.line or 0))
        return found[0] if found else None


class _Chain(NamedTuple):
    hashes: dict[int, str]  # every sequence number checked, with its hash
    damage: Damage | None
    full_events: int
    links: int


def verify(directory: Path) -> Report:
    """Verify the export in `directory`: its chain, its anchors, its manifest."""
    manifest, problems = _manifest(directory)
    kind = str(manifest.get("kind", "audit"))
    first_seq = _int(manifest.get("first_seq"), 1)
    prev_hash = str(manifest.get("prev_hash", GENESIS_HASH))
    if kind == "audit" and (first_seq != 1 or prev_hash != GENESIS_HASH):
        problems.append(
            Damage(
                "manifest",
                "a whole-chain export starts at seq 1 from 64 zeros",
                None,
                None,
                MANIFEST,
            )
        )
    chain = _chain(directory / EVENTS, first_seq, prev_hash, kind)
    damage = [*([chain.damage] if chain.damage else []), *problems]
    last_seq = max(chain.hashes, default=first_seq - 1)
    anchors, anchor_damage = _anchors(directory / ANCHORS, chain.hashes, first_seq, last_seq)
    # Past a break the chain proves nothing: only anchors before it can add to the damage.
    damage += [d for d in anchor_damage if not chain.damage or d.kind != "truncated"]
    damage += _declared(manifest, chain, first_seq, last_seq)
    notes = []
    anchored_to = max((a for a in anchors if a in chain.hashes), default=0)
    if not damage and anchored_to < last_seq:
        after = f"{anchored_to + 1}-{last_seq}" if anchored_to else f"{first_seq}-{last_seq}"
        notes.append(f"events {after} are not covered by an anchor yet")
    if not damage and chain.links:
        notes.append(f"{chain.links} events are carried as links (sequence and hash only)")
    return Report(damage, notes, first_seq, last_seq, anchored_to)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _read_lines(path: Path) -> list[str] | None:
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _parse(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _chain(path: Path, first_seq: int, prev_hash: str, kind: str) -> _Chain:
    """Walk the records in order: each must carry the next sequence number, link to the
    previous hash and (a full event) hash to its own."""
    lines = _read_lines(path)
    hashes: dict[int, str] = {}
    if lines is None:
        return _Chain(hashes, Damage("malformed", "cannot be read as UTF-8 text", None, None), 0, 0)
    records = [_parse(line) for line in lines]
    seqs = [_int(r.get("seq"), -1) if r else -1 for r in records]
    expected, link, full, links = first_seq, prev_hash, 0, 0

    def damaged(kind_: str, detail: str, line: int, seq: int | None = None) -> _Chain:
        return _Chain(
            hashes, Damage(kind_, detail, expected if seq is None else seq, line), full, links
        )

    for index, record in enumerate(records):
        line = index + 1
        if record is None:
            return damaged("malformed", "not a JSON object", line)
        seq = seqs[index]
        if seq != expected:
            why, detail, bad = _out_of_place(seq, expected, seqs[index + 1 :], hashes)
            return damaged(why, detail, line, bad)
        if record.get("prev_hash") != link:
            return damaged("broken-link", "prev_hash is not the previous event's hash", line)
        claimed = record.get("hash")
        if not isinstance(claimed, str):
            return damaged("malformed", "no hash", line)
        if set(record) == LINK_FIELDS:
            if kind != "evidence" or full == 0:
                where = (
                    "in a whole-chain export" if kind != "evidence" else "before the first event"
                )
                return damaged("malformed", f"a link record (no event) {where}", line)
            links += 1
        else:
            event = {k: v for k, v in record.items() if k != "hash"}
            if chain_hash(link, canonical(event)) != claimed:
                return damaged("altered", "the event's hash does not match its content", line)
            full += 1
        hashes[seq] = link = claimed
        expected += 1
    if full == 0:
        return _Chain(hashes, Damage("malformed", "no event", first_seq, None), full, links)
    return _Chain(hashes, None, full, links)


def _out_of_place(
    seq: int, expected: int, later: list[int], seen: dict[int, str]
) -> tuple[str, str, int]:
    """Why a record carries `seq` where `expected` was due, and the first bad seq."""
    if seq < 0:
        return "malformed", "no sequence number", expected
    if seq in seen:
        # The record before it verified, so one of the two was put in: name the first.
        return "inserted", f"two events claim seq {seq}: one was inserted", seq
    if expected in later:
        return "reordered", f"seq {expected} comes after seq {seq}", expected
    if seq > expected:
        return "missing", f"seq {expected} is not there (the next is seq {seq})", expected
    return "reordered", f"seq {seq} comes again after seq {expected - 1}", expected


def _anchors(
    path: Path, hashes: dict[int, str], first_seq: int, last_seq: int
) -> tuple[dict[int, str], list[Damage]]:
    """Each anchor the chain reaches must carry the chain's hash at its sequence number; an
    anchor beyond the export's last event means events were cut off."""
    lines = _read_lines(path)
    if lines is None:
        return {}, [Damage("malformed", "cannot be read as UTF-8 text", None, None, ANCHORS)]
    anchors: dict[int, str] = {}
    damage: list[Damage] = []
    for index, line in enumerate(lines):
        record = _parse(line)
        seq = _int(record.get("seq"), -1) if record else -1
        anchored = record.get("hash") if record else None
        if seq < 1 or not isinstance(anchored, str):
            damage.append(Damage("malformed", "not an anchor record", None, index + 1, ANCHORS))
            continue
        anchors[seq] = anchored
        if seq > last_seq:
            damage.append(
                Damage(
                    "truncated",
                    f"the export ends at seq {last_seq}, but the anchor of seq {seq} "
                    f"({record.get('key') if record else ''}, version "
                    f"{record.get('version_id') if record else ''}) shows the chain reached it",
                    last_seq + 1,
                    index + 1,
                    ANCHORS,
                )
            )
        elif seq >= first_seq and seq in hashes and hashes[seq] != anchored:
            damage.append(
                Damage(
                    "rewritten",
                    "the chain's hash here differs from the one anchored under Object Lock: "
                    "events up to this one were rewritten",
                    seq,
                    index + 1,
                    ANCHORS,
                )
            )
    return anchors, damage


def _manifest(directory: Path) -> tuple[dict[str, Any], list[Damage]]:
    """The manifest, and every file whose SHA-256 differs from the one it lists."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return {}, [Damage("manifest", "missing or not JSON", None, None, MANIFEST)]
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return {}, [Damage("manifest", f"not a {FORMAT} manifest", None, None, MANIFEST)]
    problems = []
    if manifest.get("kind") not in KINDS:
        problems.append(Damage("manifest", f"kind is not one of {KINDS}", None, None, MANIFEST))
    files = manifest.get("files")
    listed: dict[str, Any] = files if isinstance(files, dict) else {}
    # Every file the manifest lists is checked: the verifier's own, and any other an export
    # carries beside them (an evidence pack's records), named plainly inside the directory.
    others = sorted(n for n in listed if n not in FILES and n != MANIFEST)
    for name in (*FILES, *others):
        if "/" in name or "\\" in name or name.startswith("."):
            problems.append(Damage("manifest", "a file outside the export", None, None, name))
            continue
        entry = listed.get(name)
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        try:
            actual = hashlib.sha256((directory / name).read_bytes()).hexdigest()
        except OSError:
            problems.append(Damage("manifest", "listed, but not in the export", None, None, name))
            continue
        if expected != actual:
            problems.append(
                Damage("manifest", "its SHA-256 differs from the manifest's", None, None, name)
            )
    return manifest, problems


def _declared(
    manifest: dict[str, Any], chain: _Chain, first_seq: int, last_seq: int
) -> list[Damage]:
    """What the manifest says the export holds, against what it holds."""
    if not manifest or chain.damage:
        return []
    problems = []
    if _int(manifest.get("last_seq"), -1) != last_seq:
        problems.append(
            Damage(
                "manifest", f"last_seq is not {last_seq}, the last record's", None, None, MANIFEST
            )
        )
    if manifest.get("last_hash") not in (None, chain.hashes.get(last_seq)):
        problems.append(
            Damage("manifest", "last_hash is not the last record's", None, None, MANIFEST)
        )
    if _int(manifest.get("events"), -1) != chain.full_events + chain.links:
        problems.append(
            Damage(
                "manifest",
                "events does not count the records of events.jsonl",
                None,
                None,
                MANIFEST,
            )
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    """The command: `valid` and exit 0, or the first damage and exit 1."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m chalicelib.audit.verify EXPORT_DIR", file=sys.stderr)
        return 2
    directory = Path(args[0])
    if not directory.is_dir():
        print(f"not a directory: {directory}", file=sys.stderr)
        return 2
    report = verify(directory)
    first = report.first
    if first is None:
        print("valid")
        for note in report.notes:
            print(f"note: {note}")
        return 0
    print(f"invalid: {first.sentence()}")
    for other in report.damage:
        if other is not first:
            print(f"also: {other.sentence()}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
