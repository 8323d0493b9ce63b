"""The world the fault tests run in, and what they check.

One moto, one tenant and one Faults hook per module (and xdist worker). Every operation
the app declares is prepared once on top of that tenant (`Exerciser.prepare`: its
objects made, its body and If-Match built), and the table is captured right there, so
each fault case starts from exactly the state its operation was prepared in: cases do
not see each other's leftovers, and the table stays small (moto deep-copies the whole
table on every transaction).

Preparing also discovers the operation's call sites: its request is sent once with cold
caches and once with warm ones while the calls are recorded.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.api.http import Operation
from chalicelib.domain.actors import Actor
from chalicelib.domain.roles import Role
from chalicelib.services import audit
from chalicelib.store import audit_head
from chalicelib.store import keys as store_keys
from tests.conftest import PLATFORM_KEY
from tests.harness import moto_table
from tests.harness.clients import Answer, ApiClient
from tests.harness.exercise import Exerciser, Prepared, fresh_idempotency_key
from tests.harness.fake_workflow import play_workflow
from tests.harness.faults import Faults, Kind, PerRequest, Site
from tests.harness.moto_table import Snapshot
from tests.harness.tap import EventTap
from tests.harness.world import Tenant, make_tenant

WARMTHS = ("cold", "warm")
# The tenant the cases run in: the roles the Exerciser calls with, and an auditor.
PEOPLE = {
    "developer": ["developer"],
    "validator": ["validator"],
    "approver": ["approver"],
    "auditor": ["auditor"],
}
# Items a request may change without an audit event, even when it answers 503: the
# verification checkpoint is derived state (where the last good verification reached),
# moves only forward, and records no change to anything a tenant owns.
DERIVED = ("CHECKPOINT",)
# Partitions of operational records a request writes outside any transaction, and so
# without an audit event (docs/architecture.md, "Governance facts and operational
# records"): a version's metric points and the tenant's metric summaries. A request that
# fails part-way may leave some of them written; the same request again completes them.
OPERATIONAL = re.compile(r"#METRICS?(#|$)")
_VOLATILE = [
    (re.compile(r"[a-z]{2,5}_[0-9A-HJKMNP-TV-Z]{26}"), "<id>"),
    (re.compile(r"[0-9a-f]{32,}"), "<hash>"),
    (re.compile(r"\d{6,}"), "<n>"),
]


@dataclass(frozen=True)
class Located:
    """A call site and the cache warmth it was found under."""

    warmth: str
    site: Site

    def __str__(self) -> str:
        return f"{self.warmth} {self.site}"


@dataclass
class PreparedOp:
    """An operation ready for fault cases: its request, its starting table, its sites."""

    op: Operation
    request: Prepared
    table: Any
    before: Snapshot
    sites: list[Located] = field(default_factory=list)  # each distinct call once
    changes: Counter[str] = field(default_factory=Counter)  # what a clean run changes
    whats: set[str] = field(default_factory=set)  # the calls of clean runs (Call.what)

    @property
    def label(self) -> str:
        return f"{self.op.method} {self.op.path}"


@dataclass(frozen=True)
class Case:
    """One fault: `kind` at `at`, failing `times` attempts (None: every attempt); and,
    when `then` is set, that call of the failure path failing as well (internal, for good)."""

    prepared: PreparedOp
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
    answer: Answer
    after: Snapshot
    hits: int
    log: list[str]
    new_calls: list[Site]  # calls no clean run makes: the failure path's own


class TenantKeys(ApiClient):
    """Passes requests on; keeps, for every tenant created through it, a key that may read
    the tenant's audit trail (its first admin's)."""

    def __init__(self, inner: ApiClient) -> None:
        self.inner = inner
        self.audit_keys: dict[str, str] = {}

    def call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Answer:
        answer = self.inner.call(method, path, key, body, headers, raw)
        if (method, path, answer.status) == ("POST", "/v1/tenants", 201):
            self.audit_keys[answer.json["tenant"]["id"]] = answer.json["api_key"]["secret"]
        return answer


class FaultWorld:
    """One tenant in one moto, every operation prepared on demand; see the module docstring."""

    def __init__(self, api: ApiClient, faults: Faults, table: str) -> None:
        self.faults = faults
        self.table = table
        self.api = TenantKeys(PerRequest(api, faults))
        # The judges' keys are their own before the starting state is captured: every case
        # restores that state, so a key made later would vanish under the next case.
        self.tenant: Tenant = make_tenant(
            self.api, "Acme", PLATFORM_KEY, PEOPLE, own_keys_for=("validator", "approver")
        )
        self.api.audit_keys[self.tenant.id] = self.tenant.keys["auditor"]
        self.exerciser = Exerciser(self.api, self.tenant, PLATFORM_KEY, play_workflow)
        self.base = moto_table.capture(table)
        self._prepared: dict[str, PreparedOp] = {}

    def prepared(self, op: Operation) -> PreparedOp:
        """`op` prepared on the tenant's starting state, its sites discovered (once)."""
        label = f"{op.method} {op.path}"
        if label not in self._prepared:
            self._prepared[label] = self._prepare(op)
        return self._prepared[label]

    def _prepare(self, op: Operation) -> PreparedOp:
        moto_table.restore(self.table, self.base)
        chill()
        request = self.exerciser.prepare(op, idempotency_key=fresh_idempotency_key())
        table = moto_table.capture(self.table, stream=False)  # cases do not relay
        prepared = PreparedOp(op, request, table, self.snapshot())
        seen: set[str] = set()
        for warmth in WARMTHS:
            self._start(prepared, warmth)
            with self.faults.record() as calls:
                answer = self.exerciser.send(request)
            assert answer.status == op.status, (prepared.label, warmth, answer.json)
            changes = change_kinds(prepared.before, self.snapshot())
            assert not prepared.changes or changes == prepared.changes, (warmth, changes)
            prepared.changes = changes
            # A call made cold as well is the same call: faulting it again warm would
            # only repeat the case.
            prepared.sites += [Located(warmth, c.site) for c in calls if c.what not in seen]
            seen |= {call.what for call in calls}
        prepared.whats = seen
        return prepared

    def reset(self) -> None:
        """Back to the tenant's starting state, with cold caches and no faults."""
        self.faults.clear()
        moto_table.restore(self.table, self.base)
        chill()
        self.faults.refill_quotas()
        self.faults.new_request()

    def run(self, case: Case) -> Outcome:
        """Send the case's request from its starting state with the fault in place."""
        self._start(case.prepared, case.at.warmth)
        start = len(self.faults.log)
        fault = self.faults.inject(case.at.site, case.kind, case.times)
        if case.then is not None:
            self.faults.inject(case.then, "internal")
        try:
            with self.faults.record() as calls:
                answer = self.exerciser.send(case.prepared.request)
        finally:
            self.faults.clear()
        log = [f"{site} {what}" for site, what in self.faults.log[start:]]
        new = [c.site for c in calls if c.what not in case.prepared.whats]
        return Outcome(answer, self.snapshot(), fault.hits, log, new)

    def snapshot(self) -> Snapshot:
        return moto_table.snapshot(self.table)

    def verify_chains(self, tenants: set[str]) -> list[str]:
        """Problems `GET /v1/audit/verify?full=true` reports for these tenants' chains."""
        problems = []
        for tenant in sorted(tenants):
            verdict = self._verify(tenant)
            if not verdict["valid"] or not verdict["complete"]:
                problems.append(f"the chain of {tenant} does not verify: {verdict}")
        return problems

    def _verify(self, tenant: str) -> dict[str, Any]:
        key = self.api.audit_keys.get(tenant)
        if key is not None:
            answer = self.api.get("/v1/audit/verify?full=true", key)
            assert answer.status == 200, answer.json
            return dict(answer.json)
        # A tenant whose creation answered 503 (its outcome unknown) handed out no key:
        # ask the service the route calls.
        caller = Actor.of_principal("verify", tenant, "auditor", "", frozenset({Role.AUDITOR}))
        return audit.verify(caller, full=True).view()

    def _start(self, prepared: PreparedOp, warmth: str) -> None:
        moto_table.restore(self.table, prepared.table)
        chill()
        if warmth == "warm":
            warm(self.api, prepared)
        self.faults.refill_quotas()


def chill() -> None:
    """The caches of a fresh Lambda process: bootstrap.reset() except that the boto3
    clients are kept (building one costs ~50 ms, and no cache of theirs saves a call)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bootstrap.client, "cache_clear", lambda: None)
        bootstrap.reset()


def warm(api: ApiClient, prepared: PreparedOp) -> None:
    """The caches of a process that has served this caller and its tenants before: the
    caller's key, principal and tenant (or the platform secret), and every chain head."""
    if prepared.request.key is not None:
        assert api.get("/v1/me", prepared.request.key).status == 200
    for tenant in tenants_of(prepared.before):
        audit_head.current(store_keys.TenantKeys(tenant))


def _is_audit_event(key: tuple[str, str]) -> bool:
    pk, sk = key
    return pk.endswith("#AUDIT") and sk.startswith(store_keys.AUDIT_EVENT_PREFIX)


def tenants_of(items: Snapshot | set[tuple[str, str]]) -> set[str]:
    return {pk.split("#")[1] for pk, _ in items if pk.startswith("T#")}


def changed(before: Snapshot, after: Snapshot) -> set[tuple[str, str]]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def change_kinds(before: Snapshot, after: Snapshot) -> Counter[str]:
    """What changed, with ids and sequence numbers masked: a run that commits twice, or
    half, does not match a clean run."""
    kinds: Counter[str] = Counter()
    for key in changed(before, after):
        how = "added" if key not in before else "removed" if key not in after else "modified"
        kinds[f"{how} {mask('/'.join(key))}"] += 1
    return kinds


def mask(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def attribute(item: str, name: str) -> Any:
    value = json.loads(item).get(name, {})
    return next(iter(value.values())) if value else None


def clean_unavailable(answer: Answer) -> list[str]:
    """Problems with a 503: problem+json, Retry-After, the request id, nothing internal."""
    problems = []
    body = answer.json if answer.headers.get("content-type") == "application/problem+json" else {}
    if not body:
        problems.append(f"content-type {answer.headers.get('content-type')}")
    if not answer.headers.get("retry-after", "").isdigit():
        problems.append("no Retry-After in seconds")
    request_id = answer.headers.get("x-request-id")
    if not request_id or body.get("request_id") != request_id:
        problems.append(f"request id {request_id} not in the body")
    if set(body) - {"type", "title", "status", "detail", "request_id"} or body.get("status") != 503:
        problems.append(f"unexpected problem body {body}")
    if b"Traceback" in answer.raw or b"botocore" in answer.raw:
        problems.append("internals in the body")
    return problems


def operational(key: tuple[str, str]) -> bool:
    return OPERATIONAL.search(key[0]) is not None


def unchanged(before: Snapshot, after: Snapshot) -> list[str]:
    """Items a failed request changed (other than derived ones and operational records)."""
    return [
        f"changed {'/'.join(key)}"
        for key in sorted(changed(before, after))
        if not key[1].startswith(DERIVED) and not operational(key)
    ]


def partly_done(prepared: PreparedOp, after: Snapshot) -> list[str]:
    """Operational records a failed request wrote that a clean run would not have."""
    made = change_kinds(prepared.before, after)
    kept = Counter({kind: n for kind, n in made.items() if OPERATIONAL.search(kind)})
    beyond = kept - prepared.changes
    return [f"wrote {dict(beyond)}, which a clean run does not"] if beyond else []


# Audit entries that announce no domain event: a read of the audit trail is recorded
# (`audit.read`), and nothing changed that a receiver would be told of.
UNANNOUNCED = frozenset({"audit.read"})


def committed_once(prepared: PreparedOp, outcome: Outcome) -> list[str]:
    """Problems with a successful answer's changes: the same changes as a clean run, one
    audit event and its outbox events, both naming the request."""
    after, answer = outcome.after, outcome.answer
    changes = change_kinds(prepared.before, after)
    if changes != prepared.changes:
        return [f"changes {dict(changes)} differ from a clean run's {dict(prepared.changes)}"]
    request_id = answer.headers.get("x-request-id")
    added = changed(prepared.before, after) - prepared.before.keys()
    events = [after[k] for k in added if _is_audit_event(k)]
    outbox = [after[k] for k in added if k[1].startswith("OUTBOX#")]
    problems = []
    if any(json.loads(attribute(e, "body"))["request_id"] != request_id for e in events):
        problems.append(f"an audit event does not name request {request_id}")
    if any(json.loads(attribute(o, "envelope"))["request_id"] != request_id for o in outbox):
        problems.append(f"an outbox event does not name request {request_id}")
    tenant_changes = [
        k
        for k in changed(prepared.before, after)
        if not k[1].startswith(DERIVED) and not operational(k)
    ]
    silent = [e for e in events if json.loads(attribute(e, "body"))["action"] in UNANNOUNCED]
    if tenant_changes and (len(events) != 1 or not (outbox or silent)):
        problems.append(f"{len(events)} audit events and {len(outbox)} outbox events")
    if not tenant_changes and (outbox or len(events) > len(silent)):
        problems.append(f"{len(events)} audit events for operational records only")
    return problems


class Relay:
    """The outbox relay driven as Lambda drives it (infra.dispatch), and the events queue."""

    def __init__(self) -> None:
        from app import app
        from infra.dispatch import Dispatcher

        session = boto3.session.Session()
        self.dispatcher = Dispatcher(app, session, dict(os.environ))
        self.tap = EventTap(session, os.environ["CUSTOS_EVENTS_TOPIC_ARN"])

    def pump(self) -> None:
        """One pass over the table's stream: a failed batch is retried on the next pass."""
        self.dispatcher.pump_all()

    def take_event_ids(self) -> list[str]:
        """The event id of every event the topic delivered since (duplicates included)."""
        return [envelope["id"] for envelope in self.tap.take()]


def outbox_event_ids(items: Snapshot) -> set[str]:
    """The ids of the outbox events in the table: what must reach the queue."""
    return {
        json.loads(attribute(item, "envelope"))["id"]
        for (_, sk), item in items.items()
        if sk.startswith("OUTBOX#")
    }
