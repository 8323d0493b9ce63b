"""Exports: request one (audited; the file is written later), read its status and a
download URL, list them; and the exporter's run (`handlers/exports.py`).

Requesting commits the export's record, its audit entry and the internal
`export.requested` event in one unit of work: no queue is called on the request path, the
outbox relay hands the event to the exporter. The exporter claims the export (a run of its
own, under a lease), streams the kind's rows to S3 as they are read, and records the
file's row count, size and SHA-256; a redelivered message finds it done (or held) and
writes nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from chalicelib.config import settings
from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.exports import (
    ARCHIVE,
    KINDS,
    PARAMS,
    SUBJECT_PARAMS,
    EmptyRangeError,
    Export,
    ExportCreate,
    ExportFormat,
    ExportKind,
    ExportParams,
    ExportStatus,
    encoded,
)
from chalicelib.domain.ids import new_id
from chalicelib.domain.reports import AS_OF_HINT, as_of_moment
from chalicelib.entrypoints import Message
from chalicelib.errors import DomainRuleError, FieldError, ForbiddenError, NotFoundError
from chalicelib.services.export_kinds import WRITERS
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import UnitOfWork
from chalicelib.store.writer import iso, now

Item = dict[str, Any]
MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSONL: "application/jsonl",
    ExportFormat.ZIP: "application/zip",
}


class ExportBusyError(Exception):
    """Another run holds the export: the message comes back after its visibility timeout."""


def _may(actor: Actor, kind: ExportKind) -> bool:
    return actor.has_any(*kind.roles)


def request(actor: Actor, body: ExportCreate, claim: Claim | None = None) -> Export:
    """Request an export of `body.kind` in `body.format`; its file is written later."""
    kind = KINDS[body.kind]
    if not _may(actor, kind):
        needed = ", ".join(sorted(kind.roles))
        raise ForbiddenError(f"a {kind.name} export needs one of the roles: {needed}")
    if body.as_of is not None and not kind.takes_as_of:
        message = f"a {kind.name} export takes no as_of"
        raise DomainRuleError(message, errors=[FieldError("body.as_of", message)])
    if body.format not in kind.formats:
        shown = ", ".join(sorted(kind.formats))
        message = f"a {kind.name} export is written as {shown}"
        raise DomainRuleError(message, errors=[FieldError("body.format", message)])
    as_of = _moment(body.as_of) if body.as_of else None
    store = for_actor(actor)
    params = _params(store, kind, body)
    at = timestamp()
    export = Export(
        id=new_id("export"),
        kind=kind.name,
        format=body.format,
        as_of=as_of,
        params=params,
        status=ExportStatus.QUEUED,
        requested_by=str(actor.principal_id),
        created_at=datetime.fromisoformat(at),
    )
    record = public(export)
    unit = UnitOfWork()
    unit.add("export", store.exports.put_new(_stored(record)))
    unit.record("export.requested", "export", export.id, after=_audited(record))
    unit.emit(events.EXPORT_REQUESTED.of(export))
    store.commit(actor, unit.replay_answer(claim.response(export) if claim else None))
    return export


def _moment(text: str, field: str = "as_of", start: bool = False) -> datetime:
    """The moment a well-formed `as_of` (or range bound) names: a date is the end of that
    day (its start with `start`); 422 for one no calendar has (2026-02-30)."""
    try:
        moment = as_of_moment(text)
    except ValueError as exc:
        raise DomainRuleError(
            f"{field} {AS_OF_HINT}", errors=[FieldError(f"body.{field}", AS_OF_HINT)]
        ) from exc
    if start and "T" not in text:
        return datetime.fromisoformat(f"{text}T00:00:00+00:00")
    return moment


def _params(store: TenantStore, kind: ExportKind, body: ExportCreate) -> ExportParams | None:
    """The audit range or the evidence pack's version, checked (422 naming the field; 404
    for a version that is not the tenant's); None for the kinds that take neither."""
    given = {
        "from_seq": body.from_seq,
        "to_seq": body.to_seq,
        "from": body.from_time,
        "to": body.to_time,
        "model_id": body.model_id,
        "version_number": body.version_number,
    }
    for name in sorted(PARAMS - kind.params):
        if given[name] is not None:
            _refuse(name, f"a {kind.name} export takes no {name}")
    if not kind.params:
        return None
    if kind.params == SUBJECT_PARAMS:
        return _version(store, body)
    if (body.from_seq or body.to_seq) and (body.from_time or body.to_time):
        _refuse("from", "a range is by sequence (from_seq, to_seq) or by time (from, to)")
    head = store.audit.head()
    head_seq = int(head["seq"]) if head else 0
    if body.from_seq and body.to_seq and body.from_seq > body.to_seq:
        _refuse("to_seq", f"to_seq {body.to_seq} is before from_seq {body.from_seq}")
    for name, seq in (("from_seq", body.from_seq), ("to_seq", body.to_seq)):
        if seq and seq > head_seq:
            _refuse(name, f"{name} {seq} is past the chain's head, seq {head_seq}")
    start = _moment(body.from_time, "from", start=True) if body.from_time else None
    end = _moment(body.to_time, "to") if body.to_time else None
    if start and end and start > end:
        _refuse("to", "to is before from")
    return ExportParams.model_validate(
        {"from_seq": body.from_seq, "to_seq": body.to_seq, "from": start, "to": end}
    )


def _version(store: TenantStore, body: ExportCreate) -> ExportParams:
    for name in ("model_id", "version_number"):
        if getattr(body, name) is None:
            _refuse(name, f"an evidence pack needs {name}")
    assert body.model_id is not None and body.version_number is not None
    if store.inventory.get_version(body.model_id, body.version_number) is None:
        raise NotFoundError(f"no version {body.version_number} of model {body.model_id}")
    return ExportParams(model_id=body.model_id, version_number=body.version_number)


def _refuse(name: str, message: str) -> None:
    raise DomainRuleError(message, errors=[FieldError(f"body.{name}", message)])


def _stored(record: Item) -> Item:
    """The record as stored: no download URL (signed at each read, never kept)."""
    return {k: v for k, v in record.items() if not k.startswith("download_")}


def _audited(record: Item) -> Item:
    return {k: v for k, v in _stored(record).items() if v is not None}


def get(actor: Actor, export_id: str) -> Export:
    """The tenant's export (404 otherwise), with a download URL once completed."""
    store = for_actor(actor)
    item = store.exports.get(export_id)
    if item is None:
        raise NotFoundError(f"no export {export_id}")
    kind = KINDS.get(item["kind"])
    if kind is None or not _may(actor, kind):
        raise ForbiddenError(f"a {item['kind']} export is not yours to read")
    shown = _view(store, item)
    if shown.download_url and kind.formats == ARCHIVE:
        _record_read(actor, store, shown)
    return shown


def _record_read(actor: Actor, store: TenantStore, export: Export) -> None:
    """Append `audit.exported_read` before handing out the URL of an audit or evidence
    archive (one TransactWriteItems): who took a copy of the trail is itself in it."""
    read = {
        "kind": str(export.kind),
        "sha256": export.sha256,
        "byte_size": export.byte_size,
        "download_expires_at": iso(export.download_expires_at)
        if export.download_expires_at
        else None,
    }
    unit = UnitOfWork().record("audit.exported_read", "export", export.id, after=read)
    store.commit(actor, unit)


def list_exports(
    actor: Actor, limit: int, cursor_text: str | None
) -> tuple[list[Export], str | None]:
    """A page of the tenant's exports, newest first, of the kinds the caller may read."""
    store = for_actor(actor)
    readable = {str(k.name) for k in KINDS.values() if _may(actor, k)}

    def fetch(size: int, start: dict[str, Any] | None) -> Any:
        items, last = store.exports.list_page(size, start)
        return [i for i in items if i["kind"] in readable], last

    filtered = len(readable) < len(KINDS)
    items, next_cursor = store.page(
        fetch, query="exports", limit=limit, cursor_text=cursor_text, filtered=filtered
    )
    # An audit or evidence archive's URL is handed out by its own (audited) read only.
    return [_view(store, i, KINDS[i["kind"]].formats != ARCHIVE) for i in items], next_cursor


def _view(store: TenantStore, item: Item, sign: bool = True) -> Export:
    export = to_model(Export, item)
    if not sign or export.status is not ExportStatus.COMPLETED or not item.get("object_key"):
        return export
    seconds = settings().exports.download_seconds
    filename = f"{export.kind}-{export.id}.{export.format}"
    url = store.export_files.presign_get(item["object_key"], filename, seconds)
    expires = now() + timedelta(seconds=seconds)
    return export.model_copy(update={"download_url": url, "download_expires_at": expires})


# --- the exporter ----------------------------------------------------------------------


def run(actor: Actor, message: Message, max_receives: int) -> str:
    """Consumer of `export.requested`: write the export's file once. Returns what it did:
    completed, failed, or skipped (done already, or no such export)."""
    requested = Export.model_validate(message.body["data"])
    store = for_actor(actor)  # the system actor acts in the tenant the message names
    item = store.exports.get(requested.id)
    if item is None or item["status"] in (ExportStatus.COMPLETED, ExportStatus.FAILED):
        return "skipped"
    run_id = str(uuid.uuid4())
    at = now()
    lease = at + timedelta(seconds=settings().exports.lease_seconds)
    message_key = (message.id, message.receive_count)
    if not store.exports.claim(requested.id, run_id, iso(at), iso(lease), message_key):
        fresh = store.exports.get(requested.id) or {}
        if fresh.get("status") in (ExportStatus.COMPLETED, ExportStatus.FAILED):
            return "skipped"
        # A claim whose answer was lost, retried by the client, finds itself holding it.
        if fresh.get("run_id") != run_id:
            raise ExportBusyError(f"export {requested.id} is being written by another run")
    export = to_model(Export, item)
    archive = KINDS[export.kind].formats == ARCHIVE
    try:
        written = _write_pack(actor, store, export) if archive else _write(store, export)
    except EmptyRangeError as exc:  # no retry finds what the chain does not hold
        store.exports.fail(export.id, run_id, timestamp(), f"{exc}; request another range")
        return "failed"
    except Exception as exc:
        if message.receive_count < max_receives:
            store.exports.release(export.id, run_id)
            raise
        reason = f"the file could not be written ({type(exc).__name__}); request it again"
        store.exports.fail(export.id, run_id, timestamp(), reason)
        return "failed"
    store.exports.complete(export.id, run_id, timestamp(), written)
    return "completed"


def _write(store: TenantStore, export: Export) -> Item:
    kind = KINDS[export.kind]
    params = {"as_of": iso(export.as_of)} if export.as_of else {}
    counted = {"rows": 0}

    def chunks() -> Iterator[bytes]:
        first = True
        for rows in WRITERS[export.kind](store, params):
            counted["rows"] += len(rows)
            if rows or first:
                yield encoded(kind, export.format, rows, first)
            first = False

    key = store.export_files.key(export.id, str(export.format))
    done = store.export_files.write(key, chunks(), MEDIA_TYPES[export.format])
    return {
        "row_count": counted["rows"],
        "byte_size": done.byte_size,
        "sha256": done.sha256,
        "object_key": key,
    }


def _write_pack(actor: Actor, store: TenantStore, export: Export) -> Item:
    """An audit or evidence export: the verifier's directory, zipped, streamed up."""
    from chalicelib.services import export_packs

    key = store.export_files.key(export.id, str(export.format))
    return export_packs.write(actor, store, export, key)
