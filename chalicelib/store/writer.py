"""Committing a unit of work: its operations, its audit entries appended to the tenant's
hash chain (and the chain head moved), its outbox events and its stored answer, in one
TransactWriteItems. Either all of it commits or none of it does.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.actors import Actor
from chalicelib.domain.audit import bounded, canonical, chain_hash
from chalicelib.domain.ids import new_id
from chalicelib.errors import OutcomeUnknownError, ServiceUnavailableError, TransientConflictError
from chalicelib.store import audit_head, dynamo, invalidation
from chalicelib.store.aws_errors import busy, is_transient
from chalicelib.store.keys import TenantKeys
from chalicelib.store.unit import MAX_ITEMS, AuditEntry, IdempotentResponse, UnitOfWork

MAX_ATTEMPTS = 25
OUTBOX_RETENTION = timedelta(days=7)
IDEMPOTENCY_RETENTION = timedelta(hours=24)


class IdempotencyRaceError(Exception):
    """Another request with the same Idempotency-Key committed first."""


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def commit(keys: TenantKeys, actor: Actor, unit: UnitOfWork) -> int:
    """Commit `unit` in the tenant of `keys`; returns the sequence number of its last audit
    entry.

    Threads of one process take turns at the tenant's chain head (`audit_head.turn`); the
    conditional update of the head settles races between processes.
    """
    if not unit.entries:
        raise ValueError("a unit of work records at least one audit entry")
    if unit.size() > MAX_ITEMS:
        raise ValueError(f"a unit of work of {unit.size()} items exceeds {MAX_ITEMS}")
    with audit_head.turn(keys.tenant_id):
        seq = _append(keys, actor, unit)
    invalidation.notify(unit.stale)
    return seq


def commit_unchained(keys: TenantKeys, actor: Actor, unit: UnitOfWork) -> None:
    """Commit a unit that records no audit entry: its operations and its outbox events in
    one TransactWriteItems, the chain untouched.

    For operational records whose announcement must leave exactly when they commit (an
    audit anchor is a fact about the chain, not a change in it: chaining it would move the
    head it anchors). `commit` refuses such a unit, since a governed change is audited; this
    keeps the outbox's guarantee all the same: the events are in the record's transaction.
    """
    if unit.entries or unit.answer is not None:
        raise ValueError("an unchained unit carries no audit entry and no stored answer")
    if not unit.steps:
        raise ValueError("an unchained unit writes at least one record")
    if unit.size() > MAX_ITEMS:
        raise ValueError(f"a unit of work of {unit.size()} items exceeds {MAX_ITEMS}")
    names = [step.name for step in unit.steps]
    outbox = _outbox_ops(keys, actor, unit, now())
    for attempt in range(MAX_ATTEMPTS):
        try:
            dynamo.transact([step.op for step in unit.steps] + outbox)
            return
        except dynamo.TransactionCancelledError as exc:
            failed = [name for index, name in enumerate(names) if exc.failed(index)]
            if failed:
                raise unit.failure(failed) from exc
            if exc.contended:  # another transaction on the same items: try again
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            if exc.throttled:
                raise busy() from exc
            raise
    raise TransientConflictError("the records are busy; retry")


def _append(keys: TenantKeys, actor: Actor, unit: UnitOfWork) -> int:
    names = [step.name for step in unit.steps]
    for attempt in range(MAX_ATTEMPTS):
        seq, prev_hash = audit_head.current(keys, fresh=attempt > 0)
        moment = now()
        chain, last_hash = _chain_ops(keys, actor, unit.entries, seq, prev_hash, moment)
        head_index = len(names) + len(chain) - 1
        tail = chain + _outbox_ops(keys, actor, unit, moment)
        idem_index = None
        if unit.answer is not None:
            idem_index = len(names) + len(tail)
            tail.append(_idempotency_op(unit.answer, moment))
        last_seq = seq + len(unit.entries)
        try:
            dynamo.transact([step.op for step in unit.steps] + tail)
        except dynamo.TransactionCancelledError as exc:
            failed = [name for index, name in enumerate(names) if exc.failed(index)]
            if failed:
                raise unit.failure(failed) from exc
            if idem_index is not None and exc.failed(idem_index):
                raise IdempotencyRaceError() from exc
            if exc.failed(head_index) or exc.contended or _any_failed(exc, len(names), chain):
                audit_head.forget(keys.tenant_id)
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            if exc.throttled:
                raise busy() from exc
            raise
        except Exception as exc:
            # A timeout, a lost connection or DynamoDB's own 5xx: it may have applied.
            if not _transient(exc) or not _committed(keys, last_seq, last_hash):
                raise
        audit_head.remember(keys.tenant_id, (last_seq, last_hash))
        return last_seq
    raise TransientConflictError("the tenant's audit chain is busy; retry the request")


def _any_failed(exc: dynamo.TransactionCancelledError, start: int, ops: list[Any]) -> bool:
    return any(exc.failed(start + i) for i in range(len(ops)))


def _transient(exc: Exception) -> bool:
    """The data store failing (after botocore's retries), as opposed to refusing the request."""
    return isinstance(exc, ServiceUnavailableError) or is_transient(exc)


def _committed(keys: TenantKeys, seq: int, event_hash: str) -> bool:
    """Whether the transaction appending audit event `seq` with `event_hash` committed.

    The event is written only in that transaction, and its hash covers its unique id, so
    finding it means every item of the transaction is there; not finding it (in a
    consistent read) means none is, and the 503 that follows is true to "nothing changed".
    Without this check a change whose answer was lost would be reported as failed, and a
    client retrying it would make it twice. When the check fails too, the outcome is
    unknown and the answer says so.
    """
    try:
        item = dynamo.get(keys.audit_event(seq), consistent=True)
    except Exception as exc:
        if _transient(exc):
            raise OutcomeUnknownError(
                "the data store did not confirm the change; read the resource, or retry "
                "with the same Idempotency-Key, before making it again"
            ) from exc
        raise
    return item is not None and item.get("hash") == event_hash


def audit_body(
    actor: Actor, entry: AuditEntry, seq: int, prev_hash: str, moment: datetime
) -> dict[str, Any]:
    """The audit event as it is hashed (its canonical JSON) and stored."""
    return {
        "seq": seq,
        "id": new_id("audit_event"),
        "time": iso(moment),
        "action": entry.action,
        "actor": actor.audit_form(),
        "subject": {"type": entry.subject_type, "id": entry.subject_id},
        "before": bounded(entry.before),
        "after": bounded(entry.after),
        "request_id": actor.request_id,
        "prev_hash": prev_hash,
    }


def _chain_ops(
    keys: TenantKeys,
    actor: Actor,
    entries: list[AuditEntry],
    seq: int,
    prev_hash: str,
    moment: datetime,
) -> tuple[list[dict[str, Any]], str]:
    """One put per audit entry, linked in order, then the head moved from `seq` to the
    last of them; returns the ops and the last event's hash."""
    ops = []
    start, link = seq, prev_hash
    for entry in entries:
        seq += 1
        body = canonical(audit_body(actor, entry, seq, link, moment))
        link = chain_hash(link, body)
        item = {**keys.audit_event(seq), "seq": seq, "body": body, "hash": link}
        ops.append(dynamo.put_op({**item, "action": entry.action}, "attribute_not_exists(pk)"))
    head = {**keys.audit_head(), "seq": seq, "hash": link}
    if start == 0:
        ops.append(dynamo.put_op(head, "attribute_not_exists(pk)"))
    else:
        ops.append(
            dynamo.update_op(
                keys.audit_head(),
                "SET #seq = :new, #hash = :hash",
                "#seq = :old",
                names={"#seq": "seq", "#hash": "hash"},
                values={":new": seq, ":hash": link, ":old": start},
            )
        )
    return ops, link


def _outbox_ops(
    keys: TenantKeys, actor: Actor, unit: UnitOfWork, moment: datetime
) -> list[dict[str, Any]]:
    ops = []
    for event in unit.events:
        event_id = event.id or new_id("event")
        envelope = {
            "id": event_id,
            "type": event.type,
            "tenant_id": keys.tenant_id,
            "created_at": iso(moment),
            "actor": actor.audit_form(),
            "request_id": actor.request_id,
            "data": event.data,
        }
        ops.append(
            dynamo.put_op(
                {
                    **keys.outbox(event_id),
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
            "body": response.body,
            "headers": response.headers,
            "expires_at": int((moment + IDEMPOTENCY_RETENTION).timestamp()),
        },
        # An expired record may linger until DynamoDB's TTL sweep deletes it.
        "attribute_not_exists(pk) OR #expires < :now",
        names={"#expires": "expires_at"},
        values={":now": int(moment.timestamp())},
    )
