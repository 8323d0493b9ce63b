"""The export kinds' registry and file formats: every kind has a writer and columns that
read the rows its writer yields; CSV has one header, JSON Lines one object a line."""

from __future__ import annotations

import csv
import io
import json

from pydantic import BaseModel

from chalicelib.domain.exports import ARCHIVE, KINDS, ExportFormat, ExportKindName, encoded
from chalicelib.domain.findings import Finding
from chalicelib.domain.reports import InventoryRow
from chalicelib.services.export_kinds import WRITERS

EXAMPLES = {
    ExportKindName.INVENTORY: InventoryRow.model_json_schema()["examples"][0],
    ExportKindName.FINDINGS: Finding.model_json_schema()["examples"][0],
}
SHAPES: dict[ExportKindName, type[BaseModel]] = {
    ExportKindName.INVENTORY: InventoryRow,
    ExportKindName.FINDINGS: Finding,
}


# Kinds written as rows (CSV, JSON Lines) have a row writer; the audit trail's and evidence
# packs' are archives of the verifier's directory (services/export_packs.py).
ROW_KINDS = {name for name, kind in KINDS.items() if kind.formats != ARCHIVE}


def test_every_kind_is_declared_once_with_a_writer_and_roles() -> None:
    assert set(KINDS) == set(ExportKindName)
    assert ROW_KINDS == set(WRITERS) == {ExportKindName.INVENTORY, ExportKindName.FINDINGS}
    for name, kind in KINDS.items():
        assert kind.name is name and kind.roles, name
        columns = [column for column, _ in kind.columns]
        assert len(columns) == len(set(columns)), f"{name} repeats a column"


def test_only_the_inventory_takes_as_of() -> None:
    assert [k.name for k in KINDS.values() if k.takes_as_of] == [ExportKindName.INVENTORY]


def test_every_column_reads_a_row_as_the_api_answers_it() -> None:
    for name in ROW_KINDS:
        kind = KINDS[name]
        row = SHAPES[name].model_validate(EXAMPLES[name]).model_dump(mode="json")
        # a KeyError here: a column reads a field the row does not have
        cells = {column: value(row) for column, value in kind.columns}
        flat = [c for c, v in cells.items() if not isinstance(v, str | int | type(None))]
        assert flat == [], f"{name}: columns that are not one cell: {flat}"


def test_a_csv_file_has_one_header_and_a_line_per_row() -> None:
    kind = KINDS[ExportKindName.INVENTORY]
    row = InventoryRow.model_validate(EXAMPLES[ExportKindName.INVENTORY]).model_dump(mode="json")
    text = (
        encoded(kind, ExportFormat.CSV, [row], first=True)
        + encoded(kind, ExportFormat.CSV, [row, row], first=False)
    ).decode()
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == [column for column, _ in kind.columns]
    assert len(lines) == 4 and lines[1] == lines[3]
    assert dict(zip(lines[0], lines[1], strict=True))["developers"] == "Ada"
    assert text.endswith("\r\n")  # RFC 4180 line ends


def test_a_jsonl_file_has_one_compact_object_a_line() -> None:
    kind = KINDS[ExportKindName.FINDINGS]
    row = Finding.model_validate(EXAMPLES[ExportKindName.FINDINGS]).model_dump(mode="json")
    text = encoded(kind, ExportFormat.JSONL, [row, row], first=True).decode()
    lines = text.splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == row
    assert ", " not in lines[0] and text.endswith("\n")
    assert encoded(kind, ExportFormat.JSONL, [], first=True) == b""
