"""Telling per-process caches what a committed change made stale.

A unit of work names what it changes that a cache may hold (a tenant, a principal, a key:
`UnitOfWork.invalidates`); after it commits, the writer tells every listener. The cache's
owner registers its listener (authentication registers its key cache), so the layer that
makes a change never reaches into the layer that caches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Stale(NamedTuple):
    """A tenant's cached lookups to forget: one key's, one principal's keys', or (neither
    given) every key of the tenant."""

    tenant_id: str
    principal_id: str | None = None
    key_id: str | None = None


Listener = Callable[[Stale], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    """Call `listener` for everything a committed change makes stale."""
    if listener not in _listeners:
        _listeners.append(listener)


def notify(stale: list[Stale]) -> None:
    for item in stale:
        for listener in _listeners:
            listener(item)
