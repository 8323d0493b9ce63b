"""Exports: large results written to a file asynchronously, downloaded by a presigned URL.

Each kind of export is declared once in `KINDS`: who may request (and read) it, whether it
takes `as_of`, and the columns a CSV file has. The rows themselves come from the kind's
writer (`services.export_kinds`), a page at a time. The audit trail (`audit`) and a
model version's evidence pack (`evidence`), open only to auditors and admins, are archives
instead (`zip`): the export directory the offline verifier checks
(`services/export_packs.py`, docs/audit-evidence.md).

An export's status is an operational record: its request is a unit of work (audited, with
the internal `export.requested` event the exporter consumer takes), its progress after
that single conditional writes (`queued` → `running` → `completed` or `failed`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import ConfigDict, Field

from chalicelib.domain.models import Inbound, ListPage, ModelId, Outbound, WholeNumber
from chalicelib.domain.reports import AS_OF_PATTERN
from chalicelib.domain.roles import ALL_ROLES, Role

Row = dict[str, Any]
Column = tuple[str, Callable[[Row], Any]]


class ExportKindName(StrEnum):
    INVENTORY = "inventory"
    FINDINGS = "findings"
    AUDIT = "audit"
    EVIDENCE = "evidence"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    ZIP = "zip"  # an archive of the audit export directory (kinds audit and evidence)


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


def _people(people: Iterable[Row]) -> str:
    return "; ".join(f"{p['name']} <{p['email']}>" if p.get("email") else p["name"] for p in people)


def _joined(values: Iterable[Any]) -> str:
    return "; ".join(str(v) for v in values)


INVENTORY_COLUMNS: tuple[Column, ...] = (
    ("id", lambda r: r["id"]),
    ("name", lambda r: r["name"]),
    ("purpose", lambda r: r["purpose"]),
    ("intended_use", lambda r: r["intended_use"]),
    ("restrictions", lambda r: r["restrictions"]),
    ("risk_tier", lambda r: r["risk_tier"]),
    ("regulatory_scope", lambda r: _joined(r["regulatory_scope"])),
    ("business_unit", lambda r: r["business_unit"]),
    ("status", lambda r: r["status"]),
    ("owner_id", lambda r: r["owner"]["id"]),
    ("owner_name", lambda r: r["owner"]["name"]),
    ("owner_email", lambda r: r["owner"]["email"]),
    ("developers", lambda r: _people(r["developers"])),
    ("validators", lambda r: _people(r["validators"])),
    ("version_count", lambda r: r["version_count"]),
    ("approved_version", lambda r: r["approved_version"]),
    ("last_validated_at", lambda r: r["last_validated_at"]),
    ("next_validation_due_at", lambda r: r["next_validation_due_at"]),
    ("production_versions", lambda r: _joined(r["production_versions"])),
    ("open_critical", lambda r: r["open_findings"]["critical"]),
    ("open_high", lambda r: r["open_findings"]["high"]),
    ("open_medium", lambda r: r["open_findings"]["medium"]),
    ("open_low", lambda r: r["open_findings"]["low"]),
    ("accepted_exceptions", lambda r: r["accepted_exceptions"]),
)


def _accepted(field: str) -> Callable[[Row], Any]:
    return lambda r: (r.get("acceptance") or {}).get(field)


FINDING_COLUMNS: tuple[Column, ...] = (
    ("id", lambda r: r["id"]),
    ("kind", lambda r: r["kind"]),
    ("rule", lambda r: r["rule"]),
    ("severity", lambda r: r["severity"]),
    ("status", lambda r: r["status"]),
    ("title", lambda r: r["title"]),
    ("detail", lambda r: r["detail"]),
    ("model_id", lambda r: r["model_id"]),
    ("version_number", lambda r: r["version_number"]),
    ("due_at", lambda r: r["due_at"]),
    ("opened_at", lambda r: r["opened_at"]),
    ("raised_by", lambda r: r["raised_by"]),
    ("resolved_at", lambda r: r["resolved_at"]),
    ("resolved_by", lambda r: r["resolved_by"]),
    ("resolution_note", lambda r: r["resolution_note"]),
    ("accepted_by", _accepted("accepted_by")),
    ("acceptance_reason", _accepted("reason")),
    ("acceptance_expires_at", _accepted("expires_at")),
)


class ExportKind(NamedTuple):
    """One kind of export: who may request and read it, whether it takes `as_of`, the
    columns of its CSV file (from the JSON rows its writer yields)."""

    name: ExportKindName
    description: str
    roles: frozenset[Role]
    columns: tuple[Column, ...]
    takes_as_of: bool = False
    params: frozenset[str] = frozenset()  # the other body fields it takes
    formats: frozenset[ExportFormat] = frozenset({ExportFormat.CSV, ExportFormat.JSONL})


AUDIT_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})
RANGE_PARAMS = frozenset({"from_seq", "to_seq", "from", "to"})
SUBJECT_PARAMS = frozenset({"model_id", "version_number"})
PARAMS = RANGE_PARAMS | SUBJECT_PARAMS
ARCHIVE = frozenset({ExportFormat.ZIP})


KINDS: dict[ExportKindName, ExportKind] = {
    ExportKindName.INVENTORY: ExportKind(
        ExportKindName.INVENTORY,
        "The SR 11-7 model inventory (GET /v1/reports/inventory), now or as_of a moment",
        ALL_ROLES,
        INVENTORY_COLUMNS,
        takes_as_of=True,
    ),
    ExportKindName.FINDINGS: ExportKind(
        ExportKindName.FINDINGS,
        "Every finding of the tenant, open, resolved and accepted",
        ALL_ROLES,
        FINDING_COLUMNS,
    ),
    ExportKindName.AUDIT: ExportKind(
        ExportKindName.AUDIT,
        "The audit trail, whole or a range by sequence (from_seq, to_seq) or by time (from,"
        " to), with the anchors that cover it: a zip the offline verifier checks",
        AUDIT_ROLES,
        (),
        params=RANGE_PARAMS,
        formats=ARCHIVE,
    ),
    ExportKindName.EVIDENCE: ExportKind(
        ExportKindName.EVIDENCE,
        "A model version's evidence pack (model_id, version_number): its records, approval"
        " requests, deployments, findings and the audit events about them, as a zip the"
        " offline verifier checks",
        AUDIT_ROLES,
        (),
        params=SUBJECT_PARAMS,
        formats=ARCHIVE,
    ),
}


def encoded(kind: ExportKind, export_format: ExportFormat, rows: list[Row], first: bool) -> bytes:
    """A page of rows as the file's bytes: CSV (a header before the first page; RFC 4180,
    CRLF line ends) or JSON Lines (one compact object a line)."""
    if export_format is ExportFormat.JSONL:
        lines = (
            json.dumps(r, ensure_ascii=False, separators=(",", ":"), default=str) for r in rows
        )
        return "".join(f"{line}\n" for line in lines).encode()
    text = io.StringIO()
    writer = csv.writer(text)
    if first:
        writer.writerow(name for name, _ in kind.columns)
    for row in rows:
        writer.writerow(_cell(value(row)) for _, value in kind.columns)
    return text.getvalue().encode()


def _cell(value: Any) -> Any:
    return "" if value is None else value


Seq = Annotated[int, Field(ge=1), WholeNumber]  # a sequence or version number


class EmptyRangeError(Exception):
    """An audit range holds no event of the chain (a time range before the first, …): the
    export fails at once, as no retry would find one."""


class ExportCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "inventory", "format": "csv"},
                {"kind": "inventory", "format": "jsonl", "as_of": "2026-03-31"},
                {"kind": "findings", "format": "csv"},
                {"kind": "audit", "format": "zip"},
                {"kind": "audit", "format": "zip", "from_seq": 1, "to_seq": 500},
                {"kind": "audit", "format": "zip", "from": "2026-11-01", "to": "2026-11-30"},
                {
                    "kind": "evidence",
                    "format": "zip",
                    "model_id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "version_number": 1,
                },
            ]
        }
    )

    kind: ExportKindName
    format: ExportFormat
    as_of: str | None = Field(
        default=None,
        description="For the inventory: a date (the end of that day, UTC) or an RFC 3339 time;"
        " an impossible one (2026-02-30) is a 422",
        pattern=AS_OF_PATTERN,
    )
    from_seq: Seq | None = Field(
        default=None, description="For the audit trail: its first sequence number"
    )
    to_seq: Seq | None = Field(
        default=None, description="For the audit trail: its last sequence number"
    )
    from_time: str | None = Field(
        default=None,
        alias="from",
        description="For the audit trail: the events committed at or after this date (its"
        " start, UTC) or RFC 3339 time",
        pattern=AS_OF_PATTERN,
    )
    to_time: str | None = Field(
        default=None,
        alias="to",
        description="For the audit trail: the events committed at or before this date (its"
        " end, UTC) or RFC 3339 time",
        pattern=AS_OF_PATTERN,
    )
    model_id: ModelId | None = Field(default=None, description="For an evidence pack")
    version_number: Seq | None = Field(
        default=None, description="For an evidence pack: the model's version"
    )


class ExportParams(Outbound):
    """What an audit or evidence export was asked for (the range as resolved to moments)."""

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    from_seq: int | None = None
    to_seq: int | None = None
    from_time: datetime | None = Field(default=None, alias="from")
    to_time: datetime | None = Field(default=None, alias="to")
    model_id: str | None = None
    version_number: int | None = None


class Export(Outbound):
    id: str
    kind: ExportKindName
    format: ExportFormat
    as_of: datetime | None = None
    params: ExportParams | None = Field(
        default=None, description="For kinds audit and evidence: the range or the version"
    )
    status: ExportStatus
    failure_reason: str | None = Field(default=None, description="Why it failed, when it did")
    row_count: int | None = Field(default=None, description="Rows in the file, once completed")
    byte_size: int | None = Field(default=None, description="The file's size, once completed")
    sha256: str | None = Field(default=None, description="The file's SHA-256, once completed")
    requested_by: str
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    download_url: str | None = Field(
        default=None,
        description="Once completed: a presigned GET of the file, signed at this read and"
        " valid for a short while (`download_expires_at`); never stored",
    )
    download_expires_at: datetime | None = None


class ExportList(ListPage):
    items: list[Export]
