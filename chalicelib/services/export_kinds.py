"""The writers of the export kinds `domain.exports.KINDS` declares: each yields the rows
of its file a page at a time (JSON-ready dicts, as the matching report answers them), so
the exporter streams any size in flat memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chalicelib.domain.exports import ExportKindName
from chalicelib.domain.findings import Finding
from chalicelib.domain.reports import InventoryRow, as_of_moment
from chalicelib.services import inventory_rows, reports
from chalicelib.store.scope import TenantStore

Row = dict[str, Any]
Writer = Callable[[TenantStore, dict[str, Any]], Iterator[list[Row]]]
PAGE = 100  # models a page of an inventory export reads


def _inventory(store: TenantStore, params: dict[str, Any]) -> Iterator[list[Row]]:
    """The inventory's rows (`GET /v1/reports/inventory`), now or as of `params["as_of"]`."""
    if params.get("as_of"):
        running = reports.in_force(store, as_of_moment(params["as_of"]))
        ordered = sorted(running)
        for start in range(0, len(ordered), PAGE):
            ids = ordered[start : start + PAGE]
            found = {m["id"]: m for m in store.reports.models(ids)}
            yield _shown(inventory_rows.rows(store, [found[m] for m in ids if m in found], running))
        return
    last: dict[str, Any] | None = None
    while True:
        models, last = store.reports.models_page(PAGE, last)
        yield _shown(inventory_rows.rows(store, models))
        if not last:
            return


def _findings(store: TenantStore, params: dict[str, Any]) -> Iterator[list[Row]]:
    """Every finding of the tenant, by id, in the `Finding` shape the API answers."""
    last: dict[str, Any] | None = None
    while True:
        items, last = store.findings.list_page(PAGE, last)
        yield [Finding.model_validate(i).model_dump(mode="json") for i in items]
        if not last:
            return


def _shown(rows: list[Row]) -> list[Row]:
    """Rows as the report answers them (times as pydantic writes them)."""
    return [InventoryRow.model_validate(r).model_dump(mode="json") for r in rows]


WRITERS: dict[ExportKindName, Writer] = {
    ExportKindName.INVENTORY: _inventory,
    ExportKindName.FINDINGS: _findings,
}
