"""One tenant's compliance scan: read the tenant page by page, evaluate the rules
(`domain/rules.py`), upsert what they saw as findings, resolve what cleared.

The reads grow with pages, never with models: a Query per page of models, of approved
versions (one gsi1 partition across the tenant's models), of open production deployments,
of open approval requests and of open findings, each with at most one BatchGetItem for
what the page refers to; and one walk of the tenant's artifact object versions in S3,
merged with the approved versions in key order. Memory holds a page at a time.

Findings are committed a batch at a time (`Upserter`): the rule findings a batch opens,
reopens, changes or resolves, with their audit entries, events and per-model counts, in one
unit of work. A finding a scan only sees again gets its `last_seen_at` and `last_scan_id`
(bookkeeping, outside the chain). After every rule has run, the sweep resolves the rule
findings no rule saw this time (last seen before this run began: a scan running beside it
that saw one later keeps it open), and reopens accepted ones whose acceptance expired.

A scan that fails part-way leaves what it committed, which is right as far as it went; its
message comes back and the rerun finds the same findings (ids come from rule and subject).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from typing import Any

from chalicelib import clock
from chalicelib.domain import events, rules
from chalicelib.domain.actors import Actor
from chalicelib.domain.findings import (
    RULES,
    Finding,
    FindingKind,
    FindingStatus,
    Observation,
    RevalidationDue,
    ScanCounts,
    ScanStatus,
)
from chalicelib.domain.policy import Policy
from chalicelib.services.findings import due_days
from chalicelib.services.records import public, to_model
from chalicelib.store.findings import SCAN_RETENTION_SECONDS, count_deltas
from chalicelib.store.scope import TenantStore, for_tenant
from chalicelib.store.unit import RetryError, UnitOfWork
from chalicelib.store.writer import iso

PAGE = 100  # items per Query page (and keys per BatchGetItem)
SEEN_BATCH = 100  # sightings written per TransactWriteItems
BATCH = 16  # findings per unit of work: each takes its item, an audit entry and up to 2 events
Fetch = Callable[[int, dict[str, Any] | None], tuple[list[dict[str, Any]], dict[str, Any] | None]]


def pages(fetch: Fetch, size: int = PAGE) -> Iterator[list[dict[str, Any]]]:
    """Every page of a Query, one at a time."""
    start: dict[str, Any] | None = None
    while True:
        items, start = fetch(size, start)
        if items:
            yield items
        if not start:
            return


class Upserter:
    """Turns observations into findings, a batch per unit of work."""

    def __init__(
        self, store: TenantStore, actor: Actor, scan_id: str, policy: Policy, now: datetime
    ) -> None:
        self.store, self.actor, self.scan_id = store, actor, scan_id
        # The run's time as it is written (milliseconds), so what this run wrote compares
        # equal to it, never before it.
        self.at = iso(now)
        self.policy, self.now = policy, _parsed(self.at)
        self.pending: dict[str, Observation] = {}
        # Ids of findings only seen again, not yet written (a dict: one sighting each).
        self.seen: dict[str, None] = {}
        self.counts = ScanCounts()

    def see(self, observations: list[Observation]) -> None:
        for observation in observations:
            self.counts.observations += 1
            self.pending.setdefault(observation.finding_id, observation)
            if len(self.pending) >= BATCH:
                self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, {}
        for _ in range(5):
            try:
                self._commit(batch)
                return
            except RetryError:
                continue  # a finding changed meanwhile (someone accepted it): read again
        raise RuntimeError("findings kept changing under the scan; its message will retry")

    def _commit(self, batch: dict[str, Observation]) -> None:
        existing = self.store.findings.get_many(list(batch))
        unit = UnitOfWork()
        deltas: dict[str, dict[str, int]] = {}
        seen_only: list[dict[str, Any]] = []
        for finding_id, observation in batch.items():
            before = existing.get(finding_id)
            if before is not None and before.get("last_seen_at") == self.at:
                continue  # seen already by this run (a version deployed to two targets)
            after, action = self._next(observation, before)
            if action is None:
                seen_only.append(before or {})
                continue
            if before is None:
                unit.add(finding_id, self.store.findings.put_new(after), RetryError)
            else:
                op = self.store.findings.put_replace(after, int(before["revision"]))
                unit.add(finding_id, op, RetryError)
            _gather(deltas, str(after["model_id"]), count_deltas(before, after))
            self._record(unit, action, before, after)
        self._add_counts(unit, deltas)
        if unit.entries:
            self.store.commit(self.actor, unit)
        self.seen.update((str(item["id"]), None) for item in seen_only if item)
        if len(self.seen) >= SEEN_BATCH:
            self.note_sightings()

    def _next(
        self, observation: Observation, before: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str | None]:
        """The finding after this sighting, and the audit action it takes (None: only
        seen again)."""
        rule = RULES[observation.rule]
        fields = {
            "severity": str(observation.severity),
            "title": rule.title,
            "detail": observation.message,
            "facts": observation.facts or {},
            "last_seen_at": self.at,
            "last_scan_id": self.scan_id,
            "updated_at": self.at,
        }
        if before is None:
            return self._opened(observation, fields), "opened"
        status = before.get("status")
        acceptance = before.get("acceptance") or {}
        lapsed = status == "accepted" and _parsed(acceptance.get("expires_at")) <= self.now
        revision = int(before["revision"]) + 1
        if status == "resolved" or lapsed:
            reopened = {
                **before,
                **fields,
                "status": "open",
                "opened_at": self.at,
                "due_at": self._due(observation.severity),
                "resolved_at": None,
                "resolved_by": None,
                "resolution_note": None,
                "acceptance": None,
                "reopened_count": int(before.get("reopened_count") or 0) + 1,
                "revision": revision,
            }
            return _clean(reopened), "opened"
        changed = any(before.get(k) != fields[k] for k in ("severity", "detail"))
        if changed:
            return _clean({**before, **fields, "revision": revision}), "updated"
        return before, None

    def _opened(self, observation: Observation, fields: dict[str, Any]) -> dict[str, Any]:
        finding = Finding.model_validate(
            {
                "id": observation.finding_id,
                "kind": FindingKind.RULE,
                "rule": observation.rule,
                "status": FindingStatus.OPEN,
                "model_id": observation.model_id,
                "version_number": observation.version_number,
                "due_at": self._due(observation.severity),
                "opened_at": self.at,
                "created_at": self.at,
                "revision": 1,
                **fields,
            }
        )
        # The bookkeeping times exactly as this run writes them (`iso`), so "seen by this
        # run" is an equality, whatever form the model would print.
        return {**public(finding), "last_seen_at": self.at, "last_scan_id": self.scan_id}

    def _due(self, severity: Any) -> str:
        from datetime import timedelta

        return iso(self.now + timedelta(days=due_days(self.policy, severity)))

    def _record(
        self, unit: UnitOfWork, action: str, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> None:
        finding = to_model(Finding, after)
        name = f"finding.{action}"
        unit.record(name, "finding", finding.id, before=_audited(before), after=_audited(after))
        if action == "opened":
            self.counts.opened += 1
            unit.emit(events.FINDING_OPENED.of(finding))
            if finding.rule == "revalidation.due_soon" and finding.version_number is not None:
                due = str((finding.facts or {}).get("due_at") or finding.due_at.isoformat())
                payload = RevalidationDue(
                    model_id=finding.model_id,
                    version_number=finding.version_number,
                    due_at=datetime.fromisoformat(due.replace("Z", "+00:00")),
                    finding_id=finding.id,
                )
                unit.emit(events.REVALIDATION_DUE.of(payload))
        elif action == "resolved":
            self.counts.resolved += 1
            unit.emit(events.FINDING_RESOLVED.of(finding))
        else:
            self.counts.updated += 1

    def _add_counts(self, unit: UnitOfWork, deltas: dict[str, dict[str, int]]) -> None:
        """One update per model of the batch (a transaction touches an item once)."""
        for model_id, moved in deltas.items():
            counted = self.store.findings.count_op(model_id, {k: v for k, v in moved.items() if v})
            if counted is not None:
                unit.add(f"counts:{model_id}", counted)

    def note_sightings(self) -> None:
        """Write the sightings gathered so far (findings only seen again)."""
        seen, self.seen = list(self.seen), {}
        self.counts.updated += len(seen)
        if seen:
            self.store.findings.mark_seen(seen, self.at, self.scan_id)

    # --- the sweep ---------------------------------------------------------------------

    def sweep(self) -> None:
        """Resolve the rule findings no rule saw this scan; reopen accepted findings (rule
        or manual) whose acceptance expired while their condition stands."""
        for status in ("open", "accepted"):
            for page in pages(partial(self.store.findings.list_page, status=status)):
                batch = [
                    item
                    for item in page
                    if _before(item.get("last_seen_at"), self.now)
                    and (item.get("kind") == "rule" or _lapsed(item, self.now))
                ]
                for start in range(0, len(batch), BATCH):
                    self._settle(batch[start : start + BATCH])

    def _settle(self, items: list[dict[str, Any]]) -> None:
        unit = UnitOfWork()
        deltas: dict[str, dict[str, int]] = {}
        for before in items:
            revision = int(before["revision"]) + 1
            if before.get("kind") == "rule":
                after = _clean(
                    {
                        **before,
                        "status": "resolved",
                        "resolved_at": self.at,
                        "resolved_by": None,
                        "resolution_note": "its condition cleared at scan " + self.scan_id,
                        "acceptance": before.get("acceptance"),
                        "updated_at": self.at,
                        "revision": revision,
                    }
                )
                action = "resolved"
            else:  # a manual finding whose risk acceptance lapsed
                after = _clean(
                    {
                        **before,
                        "status": "open",
                        "acceptance": None,
                        "opened_at": self.at,
                        "updated_at": self.at,
                        "reopened_count": int(before.get("reopened_count") or 0) + 1,
                        "revision": revision,
                    }
                )
                action = "opened"
            op = self.store.findings.put_replace(after, int(before["revision"]))
            unit.add(str(before["id"]), op, RetryError)
            _gather(deltas, str(after["model_id"]), count_deltas(before, after))
            self._record(unit, action, before, after)
        self._add_counts(unit, deltas)
        if unit.entries:
            # A finding changed meanwhile (accepted, resolved): the next scan settles it.
            with suppress(RetryError):
                self.store.commit(self.actor, unit)


def _gather(deltas: dict[str, dict[str, int]], model_id: str, moved: dict[str, int]) -> None:
    model_deltas = deltas.setdefault(model_id, {})
    for name, delta in moved.items():
        model_deltas[name] = model_deltas.get(name, 0) + delta


def _before(stamp: Any, moment: datetime) -> bool:
    """Whether a stored time is before `moment` (no time at all counts as before)."""
    if not stamp:
        return True
    return _parsed(stamp) < moment


def _parsed(stamp: Any) -> datetime:
    return (
        datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        if stamp
        else datetime.max.replace(tzinfo=UTC)
    )


def _lapsed(item: dict[str, Any], moment: datetime) -> bool:
    """Whether an accepted finding's acceptance has expired by `moment`."""
    acceptance = item.get("acceptance") or {}
    return item.get("status") == "accepted" and _parsed(acceptance.get("expires_at")) <= moment


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    """A finding as stored: storage attributes dropped (the store adds its own)."""
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "gsi1pk", "gsi1sk", "tenant_id")}


def _audited(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """A finding as its audit entry records it (without the scan's bookkeeping)."""
    if item is None:
        return None
    return {
        k: v
        for k, v in _clean(item).items()
        if k not in ("last_seen_at", "last_scan_id", "updated_at")
    }


# --- the run -------------------------------------------------------------------------


def run(actor: Actor, tenant_id: str, scan_id: str, trigger: str = "schedule") -> dict[str, Any]:
    """Scan tenant `tenant_id` as scan `scan_id` (made on first sight); a completed scan
    is left alone (its message came again)."""
    from chalicelib.services.policy import in_force

    store = for_tenant(tenant_id)
    now = clock.now()
    scan = _start(store, scan_id, trigger, now)
    if scan["status"] == ScanStatus.COMPLETED:
        return scan
    policy = in_force(store)
    upserter = Upserter(store, actor, scan_id, policy, now)
    phases: list[tuple[str, Callable[[], None]]] = [
        ("models", lambda: _models(store, upserter)),
        ("versions", lambda: _versions(store, upserter, policy, now)),
        ("deployments", lambda: _deployments(store, upserter, policy, now)),
        ("requests", lambda: _requests(store, upserter, now)),
        ("findings", lambda: _findings(store, upserter, now)),
    ]
    try:
        for phase, evaluate in phases:
            _progress(store, scan, phase, upserter.counts)
            evaluate()
        upserter.flush()
        upserter.note_sightings()  # before the sweep, which reads them
        _progress(store, scan, "sweep", upserter.counts)
        upserter.sweep()
    except Exception as exc:
        scan.update(status=ScanStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
        _progress(store, scan, scan.get("phase"), upserter.counts)
        raise
    scan.update(status=ScanStatus.COMPLETED, completed_at=iso(clock.now()), error=None)
    _progress(store, scan, "done", upserter.counts)
    return scan


def _start(store: TenantStore, scan_id: str, trigger: str, now: datetime) -> dict[str, Any]:
    at = iso(now)
    fresh = {
        "id": scan_id,
        "status": ScanStatus.QUEUED.value,
        "trigger": trigger,
        "created_at": at,
        "counts": {},
        "attempts": 0,
    }
    store.findings.put_scan(fresh, int(time.time()) + SCAN_RETENTION_SECONDS)
    scan = store.findings.get_scan(scan_id) or fresh
    scan = _clean(scan)
    if scan.get("status") == ScanStatus.COMPLETED:
        return scan
    scan.update(
        status=ScanStatus.RUNNING.value,
        started_at=scan.get("started_at") or at,
        attempts=int(str(scan.get("attempts") or 0)) + 1,
    )
    return scan


def _progress(store: TenantStore, scan: dict[str, Any], phase: Any, counts: ScanCounts) -> None:
    scan["phase"] = phase
    scan["counts"] = counts.model_dump()
    scan["status"] = str(scan["status"])
    store.findings.save_scan(scan)


def _models(store: TenantStore, upserter: Upserter) -> None:
    for page in pages(lambda size, start: store.inventory.list_models_page(size, start)):
        upserter.counts.models += len(page)
        owners = store.principals.get_many([str(m["owner_id"]) for m in page])
        by_id = {str(p["id"]): p for p in owners}
        for model in page:
            upserter.see(rules.owner(model, by_id.get(str(model["owner_id"]))))


def _versions(store: TenantStore, upserter: Upserter, policy: Policy, now: datetime) -> None:
    objects = _ObjectWalk(store.objects.latest_artifact_objects())
    fetch = lambda size, start: store.inventory.list_versions_by_status_page(  # noqa: E731
        "approved", size, start
    )
    for page in pages(fetch):
        upserter.counts.versions += len(page)
        models = _models_of(store, [str(v["model_id"]) for v in page])
        for version in page:
            model = models.get(str(version["model_id"]))
            if model is None:
                continue
            required = policy.required_fields(
                int(model.get("risk_tier_in_force") or model.get("risk_tier") or 1),
                list(model.get("regulatory_scope") or []),
            )
            upserter.see(rules.approved_version(version, model, required, now))
            current = objects.of(str(version["model_id"]), int(version["number"]))
            upserter.see(rules.approved_artifacts(version, current))


def _deployments(store: TenantStore, upserter: Upserter, policy: Policy, now: datetime) -> None:
    """Open production deployments: each one's version must be validly approved; each
    version running there must report fresh metrics within the policy's thresholds."""
    for page in pages(lambda size, start: store.deployments.open_page("production", size, start)):
        upserter.counts.deployments += len(page)
        pairs = list(dict.fromkeys((str(d["model_id"]), int(d["version_number"])) for d in page))
        model_ids = list(dict.fromkeys(m for m, _ in pairs))
        # One batched read of both kinds; its answers come in the order of the keys.
        found = _get_all(
            store,
            [store.keys.version(m, n) for m, n in pairs] + [store.keys.model(m) for m in model_ids],
        )
        versions = {p: item for p, item in zip(pairs, found[: len(pairs)], strict=True) if item}
        models = {m: item for m, item in zip(model_ids, found[len(pairs) :], strict=True) if item}
        summaries = store.metrics.latest_many(pairs)
        for deployment in page:
            pair = (str(deployment["model_id"]), int(deployment["version_number"]))
            upserter.see(rules.production_deployment(deployment, versions.get(pair), now))
        for model_id, number in pairs:
            model = models.get(model_id)
            if model is None:
                continue
            tier = int(model.get("risk_tier_in_force") or model.get("risk_tier") or 1)
            upserter.see(
                rules.production_metrics(
                    model,
                    number,
                    summaries.get((model_id, number)),
                    policy.thresholds_for(model_id, tier),
                    policy.metrics_stale_after_days,
                    now,
                )
            )


def _get_all(store: TenantStore, keys: list[dict[str, str]]) -> list[dict[str, Any] | None]:
    """BatchGetItem in calls of 100 keys."""
    found: list[dict[str, Any] | None] = []
    for start in range(0, len(keys), PAGE):
        found += store.get_many(keys[start : start + PAGE])
    return found


def _requests(store: TenantStore, upserter: Upserter, now: datetime) -> None:
    for page in pages(lambda size, start: store.approvals.open_stage_page(size, start)):
        for request in page:
            upserter.see(rules.stuck_request(request, now))


def _findings(store: TenantStore, upserter: Upserter, now: datetime) -> None:
    upserter.flush()  # findings this scan opened are read below as they now stand
    for page in pages(lambda size, start: store.findings.list_page(size, start, status="open")):
        for finding in page:
            upserter.see(rules.overdue(finding, now))


def _models_of(store: TenantStore, model_ids: list[str]) -> dict[str, dict[str, Any]]:
    unique = list(dict.fromkeys(model_ids))
    found = store.get_many([store.keys.model(m) for m in unique])
    return {str(item["id"]): item for item in found if item}


class _ObjectWalk:
    """The tenant's artifact objects, walked once in key order alongside the approved
    versions (which come in the same order: model id, then number)."""

    def __init__(self, walk: Iterator[tuple[str, int, str, str | None]]) -> None:
        self.walk = walk
        self.ahead: tuple[str, int, str, str | None] | None = next(walk, None)

    def of(self, model_id: str, number: int) -> dict[str, str | None]:
        """The current object version of each artifact key of one version."""
        wanted = (model_id, number)
        found: dict[str, str | None] = {}
        while self.ahead is not None and (self.ahead[0], self.ahead[1]) < wanted:
            self.ahead = next(self.walk, None)
        while self.ahead is not None and (self.ahead[0], self.ahead[1]) == wanted:
            found[self.ahead[2]] = self.ahead[3]
            self.ahead = next(self.walk, None)
        return found
