"""The one way state changes: a TransactWriteItems that also appends the audit event,
advances the tenant's chain head, writes the outbox events and, when asked, the
idempotency record. Either all of it commits or none of it does.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.audit import bounded, canonical, chain_hash
from chalicelib.domain.context import Caller
from chalicelib.domain.ids import new_id
from chalicelib.errors import (
    ConflictError,
    CustosError,
    OutcomeUnknownError,
    ServiceUnavailableError,
    TransientConflictError,
)
from chalicelib.store import audit_head, dynamo, keys
from chalicelib.store.aws_errors import busy, is_transient

MAX_ATTEMPTS = 25
OUTBOX_RETENTION = timedelta(days=7)
IDEMPOTENCY_RETENTION = timedelta(hours=24)


class RetryError(Exception):
    """Raised by a failure factory to ask the caller to re-read and rebuild the write."""


class IdempotencyRaceError(Exception):
    """Another request with the same Idempotency-Key committed first."""


@dataclass(frozen=True)
class AuditEntry:
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


@dataclass(frozen=True)
class DomainEvent:
    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class IdempotentResponse:
    """What a replay of this request answers."""

    key: dict[str, str]
    request_hash: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Write:
    """A state change: the data operations and what to say about them.

    `on_failure[i]` says what op i's failed condition means: a domain error to
    raise, or RetryError to have the service re-read and try again.
    """

    tenant_id: str
    ops: list[dict[str, Any]]
    audit: AuditEntry
    events: list[DomainEvent] = field(default_factory=list)
    on_failure: dict[int, Callable[[], Exception]] = field(default_factory=dict)


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def commit(caller: Caller, write: Write, idempotent: IdempotentResponse | None = None) -> int:
    """Commit `write` with its audit event; returns the event's sequence number.

    Threads of one process take turns at the tenant's chain head (`audit_head.turn`); the
    conditional update of the head settles races between processes.
    """
    with audit_head.turn(write.tenant_id):
        return _append(caller, write, idempotent)


def _append(caller: Caller, write: Write, idempotent: IdempotentResponse | None) -> int:
    for attempt in range(MAX_ATTEMPTS):
        seq, prev_hash = audit_head.current(write.tenant_id, fresh=attempt > 0)
        moment = now()
        event_body = canonical(_event(caller, write.audit, seq + 1, prev_hash, moment))
        new_hash = chain_hash(prev_hash, event_body)
        audit_ops = _audit_ops(write.tenant_id, seq, new_hash, event_body, write.audit)
        tail = audit_ops + _outbox_ops(caller, write, moment)
        idem_index = None
        if idempotent is not None:
            idem_index = len(write.ops) + len(tail)
            tail.append(_idempotency_op(idempotent, moment))
        try:
            dynamo.transact(write.ops + tail)
        except dynamo.TransactionCancelledError as exc:
            for index in range(len(write.ops)):
                if exc.failed(index):
                    failure = write.on_failure.get(index, _default_conflict)()
                    raise failure from exc
            if idem_index is not None and exc.failed(idem_index):
                raise IdempotencyRaceError() from exc
            if exc.failed(len(write.ops)) or exc.failed(len(write.ops) + 1) or exc.contended:
                audit_head.forget(write.tenant_id)
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            if exc.throttled:
                raise busy() from exc
            raise
        except Exception as exc:
            # A timeout, a lost connection or DynamoDB's own 5xx: it may have applied.
            if not _transient(exc) or not _committed(write.tenant_id, seq + 1, new_hash):
                raise
        audit_head.remember(write.tenant_id, (seq + 1, new_hash))
        return seq + 1
    raise TransientConflictError("the tenant's audit chain is busy; retry the request")


def _transient(exc: Exception) -> bool:
    """The data store failing (after botocore's retries), as opposed to refusing the request."""
    return isinstance(exc, ServiceUnavailableError) or is_transient(exc)


def _committed(tenant_id: str, seq: int, event_hash: str) -> bool:
    """Whether the transaction appending audit event `seq` with `event_hash` committed.

    The event is written only in that transaction, and its hash covers its unique id, so
    finding it means every item of the transaction is there; not finding it (in a
    consistent read) means none is, and the 503 that follows is true to "nothing changed".
    Without this check a change whose answer was lost would be reported as failed, and a
    client retrying it would make it twice. When the check fails too, the outcome is
    unknown and the answer says so.
    """
    try:
        item = dynamo.get(keys.audit_event_key(tenant_id, seq), consistent=True)
    except Exception as exc:
        if _transient(exc):
            raise OutcomeUnknownError(
                "the data store did not confirm the change; read the resource, or retry "
                "with the same Idempotency-Key, before making it again"
            ) from exc
        raise
    return item is not None and item.get("hash") == event_hash


def _default_conflict() -> CustosError:
    return ConflictError("the object changed concurrently")


def _event(
    caller: Caller, entry: AuditEntry, seq: int, prev_hash: str, moment: datetime
) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": new_id("audit_event"),
        "time": iso(moment),
        "action": entry.action,
        "actor": {
            "principal_id": caller.principal_id,
            "key_id": caller.key_id,
            "platform": caller.platform,
        },
        "subject": {"type": entry.subject_type, "id": entry.subject_id},
        "before": bounded(entry.before),
        "after": bounded(entry.after),
        "request_id": caller.request_id,
        "prev_hash": prev_hash,
    }


def _audit_ops(
    tenant_id: str, seq: int, new_hash: str, body: str, entry: AuditEntry
) -> list[dict[str, Any]]:
    event_put = dynamo.put_op(
        {
            **keys.audit_event_key(tenant_id, seq + 1),
            "seq": seq + 1,
            "body": body,
            "hash": new_hash,
            "action": entry.action,
        },
        "attribute_not_exists(pk)",
    )
    head_values = {**keys.audit_head_key(tenant_id), "seq": seq + 1, "hash": new_hash}
    if seq == 0:
        head_op = dynamo.put_op(head_values, "attribute_not_exists(pk)")
    else:
        head_op = dynamo.update_op(
            keys.audit_head_key(tenant_id),
            "SET #seq = :new, #hash = :hash",
            "#seq = :old",
            names={"#seq": "seq", "#hash": "hash"},
            values={":new": seq + 1, ":hash": new_hash, ":old": seq},
        )
    return [event_put, head_op]


def _outbox_ops(caller: Caller, write: Write, moment: datetime) -> list[dict[str, Any]]:
    ops = []
    for event in write.events:
        event_id = new_id("event")
        envelope = {
            "id": event_id,
            "type": event.type,
            "tenant_id": write.tenant_id,
            "time": iso(moment),
            "actor_id": caller.principal_id,
            "request_id": caller.request_id,
            "data": event.data,
        }
        ops.append(
            dynamo.put_op(
                {
                    **keys.outbox_key(write.tenant_id, event_id),
                    "event_type": event.type,
                    "envelope": json.dumps(envelope, separators=(",", ":")),
                    "expires_at": int((moment + OUTBOX_RETENTION).timestamp()),
                }
            )
        )
    return ops


def _idempotency_op(response: IdempotentResponse, moment: datetime) -> dict[str, Any]:
    return dynamo.put_op(
        {
            **response.key,
            "request_hash": response.request_hash,
            "status": response.status,
            "body": json.dumps(response.body, separators=(",", ":")),
            "headers": response.headers,
            "expires_at": int((moment + IDEMPOTENCY_RETENTION).timestamp()),
        },
        # An expired record may linger until DynamoDB's TTL sweep deletes it.
        "attribute_not_exists(pk) OR #expires < :now",
        names={"#expires": "expires_at"},
        values={":now": int(moment.timestamp())},
    )
