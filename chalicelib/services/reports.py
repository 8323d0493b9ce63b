"""Examiner reports: the compliance summary, and the SR 11-7 inventory now or at a past
moment (`domain.reports`). Every role of the tenant reads them; they change nothing.

The summary is counted live: it pages through the tenant's models and findings (big
pages, only the attributes counted), so its Queries grow with pages of models and of
findings, not with models. An
inventory page is one Query of models plus the BatchGetItems of `inventory_rows`; at a
past moment it is what ran in production then, read from the production history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib.domain.actors import Actor
from chalicelib.domain.findings import FindingStatus
from chalicelib.domain.lifecycle import tier_in_force
from chalicelib.domain.models import ModelStatus
from chalicelib.domain.severity import Severity
from chalicelib.services import inventory_rows
from chalicelib.services.records import timestamp
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.writer import iso

Item = dict[str, Any]
Start = dict[str, Any] | None
HISTORY_PAGE = 1000  # deployments one Query of the production history reads
MANUAL = "manual"  # the rule a validator's own findings count under


def compliance(actor: Actor) -> Item:
    """The tenant's models counted by tier in force and by status, and its findings by
    status, severity and rule, now."""
    store = for_actor(actor)
    tiers: Counter[str] = Counter({"1": 0, "2": 0, "3": 0})
    statuses: Counter[str] = Counter({str(s): 0 for s in ModelStatus})
    total = 0
    for model in _all(store.reports.model_counts_page):
        total += 1
        tier = tier_in_force(int(model["risk_tier"]), bool(model.get("risk_tier_confirmed")))
        tiers[str(tier)] += 1
        statuses[str(model["status"])] += 1
    return {
        "generated_at": timestamp(),
        "models": {"total": total, "by_risk_tier": dict(tiers), "by_status": dict(statuses)},
        "findings": _finding_counts(store),
    }


def _finding_counts(store: TenantStore) -> Item:
    """The tenant's findings by status, and the open ones by severity and by rule (a
    validator's own findings under `manual`)."""
    statuses: Counter[str] = Counter({str(s): 0 for s in FindingStatus})
    severities: Counter[str] = Counter({str(s): 0 for s in Severity})
    rules: Counter[str] = Counter()
    total = 0
    for finding in _all(store.reports.finding_counts_page):
        total += 1
        statuses[str(finding["status"])] += 1
        if finding["status"] == FindingStatus.OPEN:
            severities[str(finding["severity"])] += 1
            rules[str(finding.get("rule") or MANUAL)] += 1
    return {
        "total": total,
        "by_status": dict(statuses),
        "open_by_severity": dict(severities),
        "open_by_rule": dict(sorted(rules.items())),
    }


def _all(fetch: Any) -> Iterator[Item]:
    start: Start = None
    while True:
        items, start = fetch(start)
        yield from items
        if not start:
            return


def inventory_page(
    actor: Actor, limit: int, cursor_text: str | None, as_of: datetime | None = None
) -> tuple[list[Item], str | None]:
    """A page of the SR 11-7 inventory (rows by model id): every model now, or, `as_of` a
    moment, the models that had a version in production then, with those versions."""
    store = for_actor(actor)
    if as_of is not None:
        return _as_of_page(store, limit, cursor_text, as_of)

    def fetch(size: int, start: Start) -> tuple[list[Item], Start]:
        return store.reports.models_page(size, start)

    models, next_cursor = store.page(
        fetch, query="reports#inventory", limit=limit, cursor_text=cursor_text
    )
    return inventory_rows.rows(store, models), next_cursor


def in_force(store: TenantStore, at: datetime) -> dict[str, list[Item]]:
    """The production deployments in force at `at`, by model id: the history read from
    `at` on (what still ran after it), in Queries of 1,000."""
    found: list[Item] = []
    start: Start = None
    while True:
        items, start = store.deployments.in_force_at("production", at, HISTORY_PAGE, start)
        found.extend(items)
        if not start:
            return inventory_rows.by_model(found)


def _as_of_page(
    store: TenantStore, limit: int, cursor_text: str | None, at: datetime
) -> tuple[list[Item], str | None]:
    """The models that ran in production at `at`, a page at a time by model id. Each page
    reads the history in force then, so the cursor needs only the last model id."""
    running = in_force(store, at)
    ordered = sorted(running)

    def fetch(size: int, start: Start) -> tuple[list[Item], Start]:
        after = start["sk"]["S"] if start else ""
        ids = [m for m in ordered if m > after][:size]
        found = {m["id"]: m for m in store.reports.models(ids)}
        models = [found[m] for m in ids if m in found]
        more = bool(ids) and ids[-1] != ordered[-1]
        last = {"pk": {"S": store.keys.models}, "sk": {"S": ids[-1]}} if more else None
        return models, last

    models, next_cursor = store.page(
        fetch, query="reports#inventory", limit=limit, cursor_text=cursor_text, as_of=iso(at)
    )
    return inventory_rows.rows(store, models, running), next_cursor
