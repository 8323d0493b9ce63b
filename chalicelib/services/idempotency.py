"""Idempotency-Key records as the HTTP edge uses them: where a caller's record lives, and
the answer a replay returns."""

from __future__ import annotations

from chalicelib.domain.actors import Actor
from chalicelib.store import idempotency, keys
from chalicelib.store.idempotency import Claim, Rendered, StoredResponse
from chalicelib.store.scope import for_actor
from chalicelib.store.writer import IdempotencyRaceError

__all__ = ["Claim", "IdempotencyRaceError", "Rendered", "StoredResponse", "record_key", "stored"]


def record_key(actor: Actor, idempotency_key: str) -> dict[str, str]:
    """The key of the record an actor's request with `idempotency_key` answers from: the
    platform's own, or the principal's inside its tenant."""
    if actor.platform:
        return keys.platform_idempotency_key(idempotency_key)
    return for_actor(actor).idempotency_key(str(actor.principal_id), idempotency_key)


def stored(record: dict[str, str], request_hash: str) -> StoredResponse | None:
    """The first answer for a replay; None for a first request; 409 for another body."""
    return idempotency.lookup(record, request_hash)
