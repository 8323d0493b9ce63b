"""The per-tenant audit chain head, read consistently and cached optimistically.

The cache only saves a GetItem: every append conditions on the head's sequence
number, so a stale cache costs one retry, never a fork.
"""

from __future__ import annotations

import threading

from chalicelib.audit.canonical import GENESIS_HASH
from chalicelib.bootstrap import caches
from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys

_cache: dict[str, tuple[int, str]] = {}
_lock = threading.Lock()
_turns = [threading.Lock() for _ in range(64)]


def turn(tenant_id: str) -> threading.Lock:
    """The lock this process's threads hold while appending to the tenant's chain.

    A Lambda process serves one request at a time, so it is never contended there. A
    threaded host (`make run`'s server) serves many: without turns its threads race each
    other for the head, each lost race costs a transaction and a re-read, and under load
    writes to one tenant slow to a few a second. Tenants share 64 locks.
    """
    return _turns[hash(tenant_id) % len(_turns)]


def current(keys: TenantKeys, *, fresh: bool = False) -> tuple[int, str]:
    """(sequence, hash) of the chain head; (0, GENESIS_HASH) for an empty chain."""
    if not fresh:
        with _lock:
            hit = _cache.get(keys.tenant_id)
        if hit:
            return hit
    item = dynamo.get(keys.audit_head(), consistent=True)
    head = (int(item["seq"]), str(item["hash"])) if item else (0, GENESIS_HASH)
    remember(keys.tenant_id, head)
    return head


def remember(tenant_id: str, head: tuple[int, str]) -> None:
    with _lock:
        known = _cache.get(tenant_id)
        if known is None or known[0] <= head[0]:
            _cache[tenant_id] = head


def forget(tenant_id: str) -> None:
    with _lock:
        _cache.pop(tenant_id, None)


def clear_cache() -> None:
    with _lock:
        _cache.clear()


caches.append(clear_cache)
