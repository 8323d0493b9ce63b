"""Cursor pagination over store pages, bound to the tenant and the query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.store import cursor
from chalicelib.store.dynamo import serialize

Page = tuple[list[dict[str, Any]], dict[str, Any] | None]
FILTERED_READ = 100
FILTERED_ROUNDS = 5


def page(
    fetch: Callable[[int, dict[str, Any] | None], Page],
    *,
    tenant: str | None,
    query: str,
    limit: int,
    cursor_text: str | None,
    filtered: bool = False,
    key_attrs: tuple[str, ...] = ("pk", "sk"),
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of at most `limit` items and the cursor of the next page.

    An unfiltered page is one Query. A filtered one reads up to five pages of
    100 items while matches come back short, then cuts at `limit` and resumes
    after the last item it kept, so filters rarely answer empty pages.
    """
    start = cursor.decode(cursor_text, tenant, query)
    if not filtered:
        items, last = fetch(limit, start)
        return items, cursor.encode(tenant, query, last)
    items, last = fetch(FILTERED_READ, start)
    rounds = 1
    while last and len(items) < limit and rounds < FILTERED_ROUNDS:
        more, last = fetch(FILTERED_READ, last)
        items.extend(more)
        rounds += 1
    if len(items) > limit:
        items = items[:limit]
        last = serialize({attr: items[-1][attr] for attr in key_attrs})
    return items, cursor.encode(tenant, query, last)
