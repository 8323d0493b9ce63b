"""The world the consumer fault tests run in, and what they check.

One executing moto (its Step Functions runs the approval workflow), one Faults hook and
one run of the system per module (and xdist worker): `tests.harness.scenario` drives
every declared queue consumer, stream consumer and schedule through the local dispatcher
while `tests.harness.consumers.Capture` keeps each input one accepted, with the world it
saw it in. Each input is then replayed from that world (the table put back, the running
executions restarted with their task tokens: `tests.harness.executions`) once with cold
caches and once with warm ones while its AWS calls are recorded: those are its call sites,
and what those runs change is what a correct run changes.

What a run changes: the table (items by masked key, as the route tests compare them) and
the world outside it: executions started, task tokens answered, events published to the
fan-out topic (by event id: delivery is at least once, so a duplicate is not a second
change). Items a clean run writes with a single-item write rather than a unit of work are
operational (a kept task token, an answered callback) or derived (the verification
checkpoint): a failed run may leave those behind, and a redelivery must accept them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from chalice import Chalice

from chalicelib.domain.actors import Actor
from chalicelib.domain.roles import Role
from chalicelib.services import audit
from chalicelib.store import keys as store_keys
from tests.functional.fault_world import (
    WARMTHS,
    Located,
    attribute,
    change_kinds,
    changed,
    mask,
)
from tests.harness import executions, moto_table
from tests.harness.clients import ApiClient
from tests.harness.consumers import (
    Entry,
    Input,
    Reported,
    describe,
    invoke,
    redelivered,
    restore,
)
from tests.harness.faults import Call, Faults, Kind, Site
from tests.harness.moto_table import ItemKey, Snapshot
from tests.harness.tap import EventTap

SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
# Kinds whose call is applied before it fails: when the answer of a unit of work's write is
# lost and confirming it fails too, the change may have been made (and is then whole).
APPLIED_THEN_LOST = ("lost-response", "already-exists")


@dataclass(frozen=True)
class Effects:
    """What a run did outside the table (see the module docstring)."""

    started: frozenset[str] = frozenset()  # executions, by name
    answered: Counter[str] = field(default_factory=Counter)  # task tokens, by execution
    published: frozenset[str] = frozenset()  # event ids on the topic

    def __str__(self) -> str:
        return (
            f"started {sorted(self.started)}, answered {dict(self.answered)}, "
            f"published {len(self.published)} events"
        )


@dataclass
class PreparedInput:
    """A captured input ready for fault cases: its sites and what a clean run changes."""

    input: Input
    calls_sfn: bool = True  # until a clean run shows otherwise, restore the executions
    sites: list[Located] = field(default_factory=list)  # each distinct call once
    whats: set[str] = field(default_factory=set)
    changes: Counter[str] = field(default_factory=Counter)
    operational: set[ItemKey] = field(default_factory=set)  # single-item writes
    effects: Effects = field(default_factory=Effects)
    audited_as: Counter[str] = field(default_factory=Counter)  # request ids audit names

    @property
    def label(self) -> str:
        return f"{self.input.entry} ({describe(self.input)})"

    @property
    def entry(self) -> Entry:
        return self.input.entry


@dataclass(frozen=True)
class Case:
    """`kind` at `at` for `times` attempts (None: every one); `then`: that call of the
    failure path failing as well (internal, for good)."""

    prepared: PreparedInput
    at: Located
    kind: Kind
    times: int | None = None
    then: Site | None = None

    def __str__(self) -> str:
        lasting = "persistent" if self.times is None else f"{self.times}x"
        then = f", then internal at {self.then}" if self.then else ""
        return f"{self.prepared.label}: {self.kind} at {self.at}, {lasting}{then}"


@dataclass
class Outcome:
    reported: Reported
    before: Snapshot
    after: Snapshot
    effects: Effects
    hits: int = 0
    log: list[str] = field(default_factory=list)
    new_calls: list[Site] = field(default_factory=list)


class ConsumerWorld:
    """Captured inputs, replayed under faults; see the module docstring."""

    def __init__(
        self,
        app: Chalice,
        api: ApiClient,
        faults: Faults,
        table: str,
        inputs: list[Input],
        audit_keys: dict[str, str],
        tap: EventTap,
    ) -> None:
        self.app, self.api, self.faults, self.table = app, api, faults, table
        self.inputs = inputs
        self.audit_keys = audit_keys
        self.tap = tap
        self._prepared: dict[Entry, list[PreparedInput]] = {}
        self._start_effects: tuple[executions.Effects, set[str]] | None = None

    def prepared(self, entry: Entry) -> list[PreparedInput]:
        """The entry's inputs, each replayed cleanly (once); an input making the same
        calls, in the same order, as an earlier one is left out: it would repeat cases."""
        if entry not in self._prepared:
            found = [self._prepare(PreparedInput(i)) for i in self.inputs if i.entry == entry]
            self._prepared[entry] = _distinct(found)
        return self._prepared[entry]

    def _prepare(self, prepared: PreparedInput) -> PreparedInput:
        seen: set[str] = set()
        for warmth in WARMTHS:
            before = self._start(prepared, warmth)
            with self.faults.record() as calls:
                reported = self._invoke(prepared.entry, prepared.input.event)
            assert not reported.failed, (prepared.label, warmth, reported.detail)
            # The world was put back as it was: the replay answers as the original did.
            assert _same_answer(reported.answer, prepared.input.answer), (
                prepared.label,
                warmth,
                reported.answer,
                prepared.input.answer,
            )
            after = self.snapshot()
            changes, effects = change_kinds(before, after), self._effects()
            assert not prepared.changes or changes == prepared.changes, (warmth, changes)
            assert warmth == WARMTHS[0] or effects == prepared.effects, (warmth, str(effects))
            prepared.changes, prepared.effects = changes, effects
            prepared.audited_as = audited_as(before, after)
            prepared.operational |= single_writes(calls)
            prepared.sites += [Located(warmth, c.site) for c in calls if c.what not in seen]
            seen |= {c.what for c in calls}
            prepared.calls_sfn = any(c.site.service == "sfn" for c in calls)
        prepared.whats = seen
        return prepared

    def run(self, case: Case) -> Outcome:
        """The case's input, from its world, with the fault in place."""
        before = self._start(case.prepared, case.at.warmth)
        start = len(self.faults.log)
        fault = self.faults.inject(case.at.site, case.kind, case.times)
        if case.then is not None:
            self.faults.inject(case.then, "internal")
        try:
            with self.faults.record() as calls:
                reported = self._invoke(case.prepared.entry, case.prepared.input.event)
        finally:
            self.faults.clear()
        log = [f"{site} {what}" for site, what in self.faults.log[start:]]
        new = [c.site for c in calls if c.what not in case.prepared.whats]
        effects = self._effects()
        return Outcome(reported, before, self.snapshot(), effects, fault.hits, log, new)

    def redeliver(self, case: Case, failed: Outcome) -> Outcome:
        """The same input again, as Lambda retries it, with the fault gone."""
        self.faults.refill_quotas()
        reported = self._invoke(case.prepared.entry, redelivered(case.prepared.input.event))
        return Outcome(reported, failed.before, self.snapshot(), self._effects())

    def snapshot(self) -> Snapshot:
        return moto_table.snapshot(self.table)

    def verify_chains(self, tenants: set[str]) -> list[str]:
        """Problems a full verification of these tenants' chains reports."""
        problems = []
        for tenant in sorted(tenants):
            key = self.audit_keys.get(tenant)
            if key is not None:
                verdict = self.api.get("/v1/audit/verify?full=true", key).json
            else:
                auditor = Actor.of_principal("verify", tenant, "a", "", frozenset({Role.AUDITOR}))
                verdict = audit.verify(auditor, full=True).view()
            if not verdict.get("valid") or not verdict.get("complete"):
                problems.append(f"the chain of {tenant} does not verify: {verdict}")
        return problems

    def _invoke(self, entry: Entry, event: dict[str, Any]) -> Reported:
        self.faults.new_request()
        return invoke(self.app, entry, event)

    def _start(self, prepared: PreparedInput, warmth: str) -> Snapshot:
        """The input's world back, caches as `warmth` says; returns the table as it is."""
        self.faults.clear()
        restore(prepared.input, self.table, warmth, executions_too=prepared.calls_sfn)
        before = self.snapshot()
        self.tap.take()
        self._start_effects = (executions.effects(), set())
        self.faults.refill_quotas()
        return before

    def _effects(self) -> Effects:
        assert self._start_effects is not None
        at_start, published = self._start_effects
        published |= {envelope["id"] for envelope in self.tap.take()}
        now = executions.effects()
        return Effects(
            frozenset(now.executions - at_start.executions),
            now.answered - at_start.answered,
            frozenset(published),
        )


def _same_answer(replayed: Any, original: Any) -> bool:
    """Answers compared as JSON (a queue entry's empty batchItemFailures either way)."""
    empty: tuple[Any, ...] = ({"batchItemFailures": []}, None)
    if replayed in empty and original in empty:
        return True
    return bool(json.dumps(replayed, sort_keys=True) == json.dumps(original, sort_keys=True))


def _distinct(found: list[PreparedInput]) -> list[PreparedInput]:
    """The first input of each sequence of call sites."""
    kept: dict[tuple[str, ...], PreparedInput] = {}
    for prepared in found:
        kept.setdefault(tuple(str(s) for s in prepared.sites), prepared)
    return list(kept.values())


def single_writes(calls: list[Call]) -> set[ItemKey]:
    """The items written by single-item DynamoDB writes among `calls`."""
    found = set()
    for call in calls:
        if call.site.service != "dynamodb" or call.site.operation not in SINGLE_WRITES:
            continue
        asked = json.loads(call.asked or b"{}")
        key = asked.get("Key") or asked.get("Item") or {}
        if "pk" in key:
            found.add((key["pk"]["S"], key.get("sk", {}).get("S", "")))
    return found


def audited_as(before: Snapshot, after: Snapshot) -> Counter[str]:
    """The request ids the audit events a run added name (one count per event)."""
    named: Counter[str] = Counter()
    for key in changed(before, after) - before.keys():
        if key[0].endswith("#AUDIT") and key[1].startswith(store_keys.AUDIT_EVENT_PREFIX):
            named[json.loads(attribute(after[key], "body"))["request_id"]] += 1
    return named


def governed(snapshot: Snapshot, prepared: PreparedInput) -> Snapshot:
    """The items of `snapshot` that are not the input's operational records."""
    return {k: v for k, v in snapshot.items() if k not in prepared.operational}


def operational_only(case: Case, outcome: Outcome) -> list[str]:
    """Governed items a failed run changed (written only in a unit of work). When the
    case lost the answer of an applied write, the change may be there, but whole."""
    prepared = case.prepared
    before, after = governed(outcome.before, prepared), governed(outcome.after, prepared)
    touched = changed(before, after)
    if not touched:
        return []
    if case.kind.name in APPLIED_THEN_LOST:
        clean = governed_changes(prepared)
        if change_kinds(before, after) == clean:
            return []
    return [f"changed {'/'.join(key)}" for key in sorted(touched)]


def governed_changes(prepared: PreparedInput) -> Counter[str]:
    """What a clean run changes, its operational records left out."""
    operational = {k for k in prepared.changes if _is_operational(k, prepared)}
    return Counter({k: n for k, n in prepared.changes.items() if k not in operational})


def _is_operational(kind: str, prepared: PreparedInput) -> bool:
    """Whether a change kind (`added <masked key>`) is one of the operational records."""
    masked = {mask("/".join(key)) for key in prepared.operational}
    return kind.split(" ", 1)[1] in masked


def applied_once(prepared: PreparedInput, outcome: Outcome) -> list[str]:
    """Problems with an accepted run: the same changes as a clean run, in the table and
    outside it, one audit event per fact, each naming the input."""
    changes = change_kinds(outcome.before, outcome.after)
    if changes != prepared.changes:
        return [f"changes {dict(changes)} differ from a clean run's {dict(prepared.changes)}"]
    problems = []
    named = audited_as(outcome.before, outcome.after)
    if named != prepared.audited_as:
        problems.append(f"audit events name {dict(named)}, a clean run's {prepared.audited_as}")
    if outcome.effects != prepared.effects:
        problems.append(f"did {outcome.effects}; a clean run {prepared.effects}")
    return problems


def with_then(case: Case, call: Site) -> Case:
    return replace(case, then=call)
