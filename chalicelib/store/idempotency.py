"""Idempotency records: a creating POST's first answer, kept for 24 hours."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from chalicelib.errors import IdempotencyConflictError
from chalicelib.store import dynamo
from chalicelib.store.unit import IdempotentResponse

Rendered = tuple[int, str, dict[str, str]]  # status, the body's exact text, headers


class StoredResponse(NamedTuple):
    status: int
    body: str
    headers: dict[str, str]


class Claim(NamedTuple):
    """A request that will record its answer under an Idempotency-Key when it commits."""

    key: dict[str, str]
    request_hash: str
    render: Callable[[Any], Rendered]

    def response(self, result: Any) -> IdempotentResponse:
        status, body, headers = self.render(result)
        return IdempotentResponse(self.key, self.request_hash, status, body, headers)


def lookup(key: dict[str, str], request_hash: str) -> StoredResponse | None:
    """The stored answer for a replay, None for a first request; 409 for another body."""
    item = dynamo.get(key, consistent=True)
    if not item or int(item.get("expires_at", 0)) < time.time():
        return None
    if item["request_hash"] != request_hash:
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used with a different request"
        )
    return StoredResponse(int(item["status"]), str(item["body"]), dict(item["headers"]))
