"""Reading (audited) and verifying a tenant's hash-chained audit trail."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from chalicelib.domain import views
from chalicelib.domain.actors import Actor
from chalicelib.domain.audit import chain_hash
from chalicelib.store.audit_head import GENESIS_HASH
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.writer import iso, now

VERIFY_BUDGET = 5_000  # events checked per call; a longer chain goes on from the checkpoint
VERIFY_PAGE = 500


class Verification(NamedTuple):
    """What checking a chain found (`AuditVerification` in the API)."""

    valid: bool
    head_seq: int
    verified_from: int
    verified_to: int
    complete: bool
    first_bad_seq: int | None = None
    reason: str | None = None

    def view(self) -> dict[str, Any]:
        """As `GET /v1/audit/verify` answers it."""
        return views.AUDIT_VERIFICATION.render(self._asdict())


def list_events(
    actor: Actor, limit: int, cursor_text: str | None, from_seq: int = 1
) -> dict[str, Any]:
    """A page of the tenant's audit events in sequence order, as the API answers it.

    Reading the trail is itself audited: the page is answered only once an `audit.read`
    entry naming what was read (the sequence numbers and the query) is in the chain, so
    an examiner sees who looked at the evidence, and when."""
    store = for_actor(actor)
    items, next_cursor = store.page(
        lambda n, start: store.audit.list_page(n, start, from_seq),
        query="audit",
        limit=limit,
        cursor_text=cursor_text,
        from_seq=from_seq,
    )
    events = [{**json.loads(i["body"]), "hash": i["hash"]} for i in items]
    _record_read(actor, store, events, from_seq, limit, cursor_text is not None)
    return views.AUDIT_EVENT.page(events, next_cursor)


def _record_read(
    actor: Actor,
    store: TenantStore,
    events: list[dict[str, Any]],
    from_seq: int,
    limit: int,
    continued: bool,
) -> None:
    """Append `audit.read` for a page of events (one TransactWriteItems)."""
    from chalicelib.store.unit import UnitOfWork

    seqs = [int(e["seq"]) for e in events]
    read = {
        "from_seq": from_seq,
        "limit": limit,
        "continued": continued,
        "first_seq": seqs[0] if seqs else None,
        "last_seq": seqs[-1] if seqs else None,
        "count": len(seqs),
    }
    unit = UnitOfWork().record("audit.read", "audit_events", store.tenant_id, after=read)
    store.commit(actor, unit)


def verify(actor: Actor, full: bool = False) -> Verification:
    """Check the chain from the last good checkpoint (or from the start) to the head.

    Each event's hash must equal sha256(previous hash + its canonical body), its
    sequence number must follow the previous one, and the last one must be the
    head. A good run moves the checkpoint forward, so the next call only checks
    what was appended since.
    """
    audit = for_actor(actor).audit
    head = audit.head()
    head_seq, head_hash = (int(head["seq"]), head["hash"]) if head else (0, GENESIS_HASH)
    checkpoint = None if full else audit.checkpoint()
    seq, prev_hash = (
        (int(checkpoint["seq"]), checkpoint["hash"]) if checkpoint else (0, GENESIS_HASH)
    )
    start = seq + 1

    def result(
        valid: bool, to: int, complete: bool, bad: int | None = None, reason: str | None = None
    ) -> Verification:
        return Verification(
            valid=valid,
            head_seq=head_seq,
            verified_from=start,
            verified_to=to,
            complete=complete,
            first_bad_seq=bad,
            reason=reason,
        )

    if checkpoint and seq > 0:
        anchor, _ = audit.list_page(1, None, seq)
        if not anchor or int(anchor[0]["seq"]) != seq or anchor[0]["hash"] != prev_hash:
            return result(False, seq - 1, True, seq, "the event at the checkpoint was altered")
    checked, last_key = 0, None
    while seq < head_seq and checked < VERIFY_BUDGET:
        items, last_key = audit.list_page(VERIFY_PAGE, last_key, start)
        for item in items:
            bad = _check(item, seq + 1, prev_hash)
            if bad:
                return result(False, seq, True, seq + 1, bad)
            seq, prev_hash = seq + 1, item["hash"]
            checked += 1
        if not last_key:
            break
    if seq < head_seq and checked < VERIFY_BUDGET:
        return result(False, seq, True, seq + 1, "events are missing before the chain head")
    if seq == head_seq and prev_hash != head_hash:
        return result(False, seq - 1, True, seq, "the chain head does not match the last event")
    if seq >= start:  # something new was checked; otherwise the checkpoint stays put
        audit.save_checkpoint(seq, prev_hash, iso(now()))
    return result(True, seq, seq >= head_seq)


def _check(item: dict[str, Any], expected_seq: int, prev_hash: str) -> str | None:
    """Why `item` breaks the chain, or None when it holds."""
    if int(item["seq"]) != expected_seq:
        return f"sequence number {expected_seq} is missing"
    try:
        body = json.loads(item["body"])
    except (ValueError, TypeError):
        return "the event body is not valid JSON"
    if body.get("seq") != expected_seq or body.get("prev_hash") != prev_hash:
        return "the event does not link to the previous one"
    if chain_hash(prev_hash, item["body"]) != item["hash"]:
        return "the event's hash does not match its content"
    return None


def verify_every_tenant(actor: Actor, pages: int = 100) -> dict[str, Any]:
    """Schedule: verify every tenant's chain from its checkpoint (a system actor's run).

    A chain that does not verify is reported in the result and logged as an error, with
    the tenant and the first bad sequence number; the examiner-facing anchors build on it."""
    from chalicelib.store import tenants

    checked, broken = 0, []
    start = None
    for _ in range(pages):
        items, start = tenants.list_page(100, start)
        for tenant in items:
            result = verify(actor.in_tenant(str(tenant["id"])))
            checked += 1
            if not result.valid:
                broken.append({"tenant": tenant["id"], "first_bad_seq": result.first_bad_seq})
                _log_broken(str(tenant["id"]), result)
        if not start:
            break
    return {"checked": checked, "broken": broken}


def _log_broken(tenant_id: str, result: Verification) -> None:
    from chalicelib import observability

    observability.log.error(
        json.dumps(
            {
                "level": "ERROR",
                "message": "audit chain does not verify",
                "tenant": tenant_id,
                "first_bad_seq": result.first_bad_seq,
                "reason": result.reason,
            }
        )
    )
