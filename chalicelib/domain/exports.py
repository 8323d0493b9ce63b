"""Exports: large results written to a file asynchronously, downloaded by a presigned URL.

Each kind of export is declared once in `KINDS`: who may request (and read) it, whether it
takes `as_of`, and the columns a CSV file has. The rows themselves come from the kind's
writer (`services.export_kinds`), a page at a time. Kinds for the audit trail and evidence
packs are to be declared the same way, open only to auditors and admins.

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
from typing import Any, NamedTuple

from pydantic import ConfigDict, Field

from chalicelib.domain.models import Inbound, ListPage, Outbound
from chalicelib.domain.reports import AS_OF_PATTERN
from chalicelib.domain.roles import ALL_ROLES, Role

Row = dict[str, Any]
Column = tuple[str, Callable[[Row], Any]]


class ExportKindName(StrEnum):
    INVENTORY = "inventory"
    FINDINGS = "findings"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


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


class ExportCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "inventory", "format": "csv"},
                {"kind": "inventory", "format": "jsonl", "as_of": "2026-03-31"},
                {"kind": "findings", "format": "csv"},
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


class Export(Outbound):
    id: str
    kind: ExportKindName
    format: ExportFormat
    as_of: datetime | None = None
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
