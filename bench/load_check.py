"""After the load: is every acknowledged write there exactly once, and does every chain hold?

Run with the stack still up and the load stopped. Over every tenant the load touched
(the load tenants and every tenant created under load, whose admin key the creating
answer carried):

- each tenant's audit log is paged through and its chain verified in full;
- every acknowledged write (2xx, not a GET, not an Idempotency-Key replay) names its
  request id in exactly one audit event, in its own tenant's chain when it had one;
  replays, refused writes (409, 412, 429, a retryable 503: contention, which changes
  nothing) and conditional writes answered with the ETag they were sent with (a patch
  equal to what is there) name theirs in none; events a system part recorded (the
  workflow applying its messages) answer no request and are not counted; writes that got
  no answer (client timeout) may or may not have landed and are only counted; a 503
  `outcome-unknown` may have landed, once;
- a group of requests sharing an Idempotency-Key committed once and answered alike;
- what a write created (its `Location`) reads back 200, or, with no GET route of its
  own, is in its collection's listing; what a DELETE removed reads 404, or reads or is
  listed as ended (a key revoked, a deployment with its valid-until set), and a deleted
  key's secret no longer authenticates.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from bench.load_record import WORLD, Call, Routes
from tests.harness.clients import HttpApi
from tests.harness.exercise import ANONYMOUS, PLATFORM, role_for
from tests.harness.world import Tenant

EXAMPLES = 5  # failures quoted per kind
VERIFY_CALLS = 50  # verify calls per chain before giving up on `complete`
LISTINGS = 5  # listings of a chain that keeps growing while it is checked
GREW = "the chain grew while it was checked"
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Chain:
    tenant_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    valid: bool = False
    head_seq: int = 0
    reason: str | None = None


@dataclass
class Findings:
    counts: Counter[str] = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def fail(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        if len(self.failures[kind]) < EXAMPLES:
            self.failures[kind].append(text)


class Checker:
    """The checks, sharing one pool of keep-alive clients."""

    def __init__(
        self, base_url: str, platform_key: str, tenants: list[Tenant], routes: Routes
    ) -> None:
        self.base_url = base_url
        self.platform_key = platform_key
        self.keys: dict[str, dict[str, str]] = {t.id: dict(t.keys) for t in tenants}
        self.routes = routes
        self._local = threading.local()
        self.found = Findings()

    @property
    def api(self) -> HttpApi:
        if not hasattr(self._local, "api"):
            self._local.api = HttpApi(self.base_url, timeout=60)
        api: HttpApi = self._local.api
        return api

    def key(self, tenant_id: str | None, role: str) -> str | None:
        if role == ANONYMOUS:
            return None
        if role == PLATFORM:
            return self.platform_key
        return self.keys[tenant_id or ""][role]

    # --- chains --------------------------------------------------------------

    def chain(self, tenant_id: str) -> Chain:
        """Every audit event of the tenant, and a full verification of its chain. The
        system may still be appending (the workflow applies its messages after the load
        stops), so a chain that grew between the listing and the verification is listed
        again (a few times, then it counts as invalid)."""
        for _ in range(LISTINGS):
            chain = self._chain_once(tenant_id)
            if chain.reason != GREW:
                return chain
        return chain

    def _chain_once(self, tenant_id: str) -> Chain:
        chain = Chain(tenant_id)
        admin = self.keys[tenant_id]["admin"]
        cursor: str | None = None
        while True:
            query = "?limit=100" + (f"&cursor={quote(cursor)}" if cursor else "")
            page = self.api.get("/v1/audit-events" + query, admin)
            if page.status != 200:
                chain.reason = f"audit-events answered {page.status}"
                return chain
            chain.events.extend(page.json["items"])
            cursor = page.json.get("next_cursor")
            if not cursor:
                break
        query = "?full=true"
        for _ in range(VERIFY_CALLS):
            answer = self.api.get("/v1/audit/verify" + query, admin)
            if answer.status != 200:
                chain.reason = f"verify answered {answer.status}"
                return chain
            result = answer.json
            chain.head_seq, chain.reason = result["head_seq"], result.get("reason")
            if not result["valid"] or result["complete"]:
                chain.valid = bool(result["valid"])
                break
            query = ""  # go on from the checkpoint the last call saved
        # Reading the trail is audited: the last page's own audit.read comes after it.
        listed_to = chain.head_seq - 1
        if chain.valid and len(chain.events) < listed_to:
            chain.valid, chain.reason = False, GREW
        elif chain.valid and len(chain.events) != listed_to:
            chain.valid, chain.reason = False, f"{len(chain.events)} events listed"
        return chain

    # --- objects -------------------------------------------------------------

    def listing(self, tenant_id: str | None, collection: str) -> dict[str, dict[str, Any]] | None:
        """Every item of a collection by id (None when it has no GET route)."""
        lister = self.routes.match("GET", collection)
        if lister is None:
            return None
        key = self.key(tenant_id, role_for(lister))
        items: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            query = "?limit=100" + (f"&cursor={quote(cursor)}" if cursor else "")
            page = self.api.get(collection + query, key)
            if page.status != 200:
                return None
            items.update({item["id"]: item for item in page.json["items"]})
            cursor = page.json.get("next_cursor")
            if not cursor:
                return items

    def read(self, tenant_id: str | None, path: str) -> int | None:
        """The status a GET of `path` by its reader answers (None: no GET route)."""
        reader = self.routes.match("GET", path)
        if reader is None:
            return None
        return self.api.get(path, self.key(tenant_id, role_for(reader))).status

    def read_deleted(self, tenant_id: str | None, path: str) -> int | None:
        """Like `read`, but a 200 showing the object ended (a key kept revoked for the
        record, a deployment kept in the history) reads as gone (404)."""
        reader = self.routes.match("GET", path)
        if reader is None:
            return None
        answer = self.api.get(path, self.key(tenant_id, role_for(reader)))
        if answer.status == 200 and _revoked(answer.json or {}):
            return 404
        return answer.status


def verify(
    base_url: str, platform_key: str, tenants: list[Tenant], calls: list[Call], routes: Routes
) -> dict[str, Any]:
    """Check the calls' writes against what the stack holds; see the module docstring."""
    checker = Checker(base_url, platform_key, tenants, routes)
    created_tenants = _created_tenants(calls)
    for tenant_id, admin_key in created_tenants.items():
        checker.keys.setdefault(tenant_id, {"admin": admin_key})
    chains = _parallel(checker.chain, list(checker.keys))
    for chain in chains:
        if not chain.valid:
            checker.found.fail("chain_invalid", f"{chain.tenant_id}: {chain.reason}")
    where = _events_by_request(chains)
    _exactly_once(checker.found, calls, where, routes)
    _idempotency_groups(checker.found, calls)
    _created_readable(checker, calls)
    _deleted_gone(checker, calls)
    found = checker.found
    summary: dict[str, Any] = {
        "tenants_checked": len(chains),
        "tenants_created_under_load": len(set(created_tenants) - {t.id for t in tenants}),
        "chains_valid": sum(1 for c in chains if c.valid),
        "audit_events": sum(len(c.events) for c in chains),
        **dict(sorted(found.counts.items())),
        "failures": {kind: texts for kind, texts in found.failures.items() if texts},
    }
    summary["ok"] = not summary["failures"]
    return summary


def _parallel(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(work, items))


def _created_tenants(calls: list[Call]) -> dict[str, str]:
    """tenant id -> admin key, from acknowledged answers that created a tenant."""
    made = {}
    for call in calls:
        body = call.body if call.acknowledged and call.is_write else None
        if not isinstance(body, dict):
            continue
        tenant, key = body.get("tenant"), body.get("api_key")
        if isinstance(tenant, dict) and isinstance(key, dict) and key.get("secret"):
            made[str(tenant["id"])] = str(key["secret"])
    return made


def _events_by_request(chains: list[Chain]) -> dict[str, list[tuple[str, int]]]:
    """Where each request's audit events are. Events a part of the system recorded (the
    approval workflow applying its messages) answer no request of the load's, and are left
    out; each names the message it applied."""
    where: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for chain in chains:
        for event in chain.events:
            if (event.get("actor") or {}).get("kind") == "system":
                continue
            if event.get("action") == "audit.read":  # a read of the trail (this check's own)
                continue
            where[str(event.get("request_id"))].append((chain.tenant_id, int(event["seq"])))
    return where


# Writes of operational records only (metric data points): outside the audit chain, they
# record no audit event however they are answered.
OPERATIONAL_WRITES = frozenset({"POST /v1/models/{model_id}/versions/{number}/metrics"})


def _exactly_once(
    found: Findings, calls: list[Call], where: dict[str, list[tuple[str, int]]], routes: Routes
) -> None:
    known = {c.request_id for c in calls if c.request_id}
    for call in (c for c in calls if c.is_write):
        seen = where.get(call.request_id or "", [])
        what = f"{call.route} {call.status} {call.request_id}: {len(seen)} events"
        if call.status is None:
            found.counts["writes_without_answer"] += 1
        elif call.outcome_unknown:
            found.counts["writes_outcome_unknown"] += 1
            if len(seen) > 1:
                found.fail("outcome_unknown_recorded_twice", what)
        elif not call.acknowledged:
            found.counts["refused_writes"] += 1
            if seen:
                found.fail("refused_write_recorded", what)
        elif call.replayed:
            found.counts["replayed_writes"] += 1
            if seen:
                found.fail("replay_recorded", what)
        elif call.unchanged:
            found.counts["unchanged_writes"] += 1
            if seen:
                found.fail("unchanged_write_recorded", what)
        elif call.route in OPERATIONAL_WRITES:
            found.counts["operational_writes"] += 1
            if seen:
                found.fail("operational_write_recorded", what)
        else:
            found.counts["acknowledged_writes"] += 1
            if len(seen) == 1:
                found.counts["acknowledged_exactly_once"] += 1
            else:
                found.fail("acknowledged_not_exactly_once", what)
            op = routes.match(call.method, call.path)
            own = call.tenant if op is not None and op.auth != "platform" else None
            if own and seen and seen[0][0] != own:
                found.fail("recorded_in_another_tenant", f"{what} in {seen[0][0]}, not {own}")
    unexplained = [rid for rid in where if rid not in known]
    found.counts["events_of_unknown_requests"] = sum(len(where[rid]) for rid in unexplained)
    # Only a write that got no answer may have landed unseen.
    if found.counts["events_of_unknown_requests"] > found.counts["writes_without_answer"]:
        found.fail("unexplained_events", f"request ids {unexplained[:EXAMPLES]}")


def _idempotency_groups(found: Findings, calls: list[Call]) -> None:
    groups: dict[tuple[str | None, str], list[Call]] = defaultdict(list)
    for call in calls:
        if call.idempotency_key:
            groups[(call.tenant, call.idempotency_key)].append(call)
    for (_, key), group in groups.items():
        if len(group) < 2:
            continue
        found.counts["idempotency_key_groups"] += 1
        acknowledged = [c for c in group if c.acknowledged]
        originals = [c for c in acknowledged if not c.replayed]
        locations = {c.location for c in acknowledged}
        if len(originals) > 1 or len(locations) > 1:
            statuses = [(c.status, c.replayed, c.location) for c in group]
            found.fail("idempotency_key_committed_twice", f"{key}: {statuses}")


def _originals(calls: list[Call], method: str | None = None) -> list[Call]:
    """Acknowledged, non-replayed writes made for a known load tenant."""
    return [
        c
        for c in calls
        if c.acknowledged
        and c.is_write
        and not c.replayed
        and c.phase != WORLD
        and (method is None or c.method == method)
    ]


def _created_readable(checker: Checker, calls: list[Call]) -> None:
    # What a DELETE under load removed since (a webhook subscription) is checked as deleted.
    removed = {(c.tenant, c.path) for c in _originals(calls, "DELETE")}
    created = [
        c for c in _originals(calls, "POST") if c.location and (c.tenant, c.location) not in removed
    ]
    statuses = _parallel(lambda c: checker.read(c.tenant, c.location or ""), created)
    unlisted = [c for c, status in zip(created, statuses, strict=True) if status is None]
    listings = _listings(checker, [(c.tenant, _parent(c.location or "")) for c in unlisted])
    for call, status in zip(created, statuses, strict=True):
        location = call.location or ""
        if status is None:
            items = listings.get((call.tenant, _parent(location)))
            ok = items is not None and location.rsplit("/", 1)[1] in items
        else:
            ok = status == 200
        checker.found.counts["created_checked"] += 1
        if not ok:
            checker.found.fail("created_unreadable", f"{call.route} -> {location}: {status}")


def _deleted_gone(checker: Checker, calls: list[Call]) -> None:
    deleted = _originals(calls, "DELETE")
    secrets = _secrets(calls)
    statuses = _parallel(lambda c: checker.read_deleted(c.tenant, c.path), deleted)
    unlisted = [c for c, status in zip(deleted, statuses, strict=True) if status is None]
    listings = _listings(checker, [(c.tenant, _parent(c.path)) for c in unlisted])
    whoami = next(
        (op.path for op in checker.routes.ops if op.method == "GET" and op.auth == "any"), None
    )
    for call, status in zip(deleted, statuses, strict=True):
        object_id = call.path.rsplit("/", 1)[1]
        if status is None:
            items = listings.get((call.tenant, _parent(call.path)))
            item = (items or {}).get(object_id)
            ok = items is not None and (item is None or _revoked(item))
        else:
            ok = status == 404
        secret = secrets.get(object_id)
        if ok and secret and whoami:
            status = checker.api.get(whoami, secret).status
            ok = status == 401
        checker.found.counts["deleted_checked"] += 1
        if not ok:
            checker.found.fail("deleted_still_live", f"{call.route} {call.path}: {status}")


def _revoked(item: dict[str, Any]) -> bool:
    """Whether a DELETE's object, still readable, shows itself ended: a key kept revoked
    for the record, or a deployment the history keeps with its valid-until set."""
    ended = bool(item.get("until")) and "since" in item
    return ended or bool(item.get("revoked_at") or item.get("status") in ("revoked", "deleted"))


def _secrets(calls: list[Call]) -> dict[str, str]:
    """object id -> the secret its creating answer showed (API keys)."""
    return {
        str(c.body["id"]): str(c.body["secret"])
        for c in calls
        if isinstance(c.body, dict) and c.body.get("secret") and c.body.get("id")
    }


def _listings(
    checker: Checker, wanted: list[tuple[str | None, str]]
) -> dict[tuple[str | None, str], dict[str, dict[str, Any]] | None]:
    unique = sorted(set(wanted), key=str)
    pages = _parallel(lambda pair: checker.listing(*pair), unique)
    return dict(zip(unique, pages, strict=True))


def _parent(path: str) -> str:
    return path.split("?", 1)[0].rsplit("/", 1)[0]
