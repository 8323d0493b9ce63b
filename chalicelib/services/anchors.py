"""Anchoring each tenant's audit chain head to S3 under Object Lock, and listing anchors.

A schedule (`anchor_audit_chains`) pages through the tenants and queues one message per
tenant; the consumer (`anchor_audit_chain`) anchors that tenant alone, so one slow tenant
holds up no other and a failed one comes back on its own. Anchoring is not a change in
the chain (chaining it would move the head it anchors): the anchor's record and its
`audit.anchored` event commit together, outside the chain (`writer.commit_unchained`).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from chalicelib.audit.canonical import canonical
from chalicelib.domain.actors import Actor
from chalicelib.entrypoints import Message
from chalicelib.errors import ConflictError
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.writer import iso, now

TENANTS_PAGE = 100


def queue_url() -> str:
    """The queue of per-tenant anchoring messages (`CUSTOS_AUDIT_ANCHORS_QUEUE_URL`)."""
    return os.environ.get("CUSTOS_AUDIT_ANCHORS_QUEUE_URL", "")


def fan_out(actor: Actor, pages: int = 1000) -> dict[str, int]:
    """Schedule: queue one anchoring message per tenant (ten per SendMessageBatch)."""
    from chalicelib.store import queues, tenants

    sent, start = 0, None
    for _ in range(pages):
        items, start = tenants.list_page(TENANTS_PAGE, start)
        messages: list[tuple[dict[str, Any], int]] = [
            ({"tenant_id": str(t["id"])}, 0) for t in items
        ]
        if messages:
            queues.send(queue_url(), messages)
        sent += len(messages)
        if not start:
            break
    return {"queued": sent}


def anchor_message(actor: Actor, message: Message) -> None:
    """Consumer: anchor the chain of the tenant the message names (a message naming none
    is dropped: there is nothing to anchor)."""
    tenant_id = message.tenant_id
    if tenant_id:
        anchor_tenant(actor.in_tenant(tenant_id))


def anchor_tenant(actor: Actor) -> dict[str, Any] | None:
    """Write the tenant's chain head to S3, locked in compliance mode for the policy's
    `audit_anchor_retention_days`, and record it with its `audit.anchored` event.

    Returns the anchor, or None when there is nothing new: an empty chain, or a head
    that has not moved since the last anchor (a redelivered message lands here too). Two
    runs racing on one head both write an object version; one record commits, naming
    its version, and the other run gives way."""
    from chalicelib.domain import events
    from chalicelib.domain.anchors import ANCHOR_FORMAT, AuditAnchor
    from chalicelib.services.policy import in_force
    from chalicelib.store.anchors import bucket
    from chalicelib.store.unit import UnitOfWork
    from chalicelib.store.writer import commit_unchained

    store = for_actor(actor)
    head = store.audit.head()
    if not head:
        return None
    seq, hash_ = int(head["seq"]), str(head["hash"])
    last = store.anchors.latest()
    if last and int(last["seq"]) >= seq:
        return None
    days = in_force(store).audit_anchor_retention_days
    moment = now()
    retain_until = moment + timedelta(days=days)
    anchor = {
        "seq": seq,
        "hash": hash_,
        "chain_time": _chain_time(store, seq),
        "anchored_at": iso(moment),
        "retain_until": iso(retain_until),
    }
    body = canonical({"format": ANCHOR_FORMAT, "tenant_id": store.tenant_id, **anchor})
    key, version_id = store.anchors.put_object(seq, body.encode("utf-8"), retain_until)
    record = {**anchor, "bucket": bucket(), "key": key, "version_id": version_id}
    unit = UnitOfWork().add("anchor", store.anchors.record_op(record), _anchored)
    unit.emit(events.AUDIT_ANCHORED.of(AuditAnchor.model_validate(record)))
    try:
        commit_unchained(store.keys, actor, unit)
    except ConflictError:
        return None  # another run recorded this head first
    return record


def _anchored() -> Exception:
    return ConflictError("this chain head is anchored already")


def _chain_time(store: TenantStore, seq: int) -> str:
    """The time of the audit event at `seq` (the head's)."""
    from chalicelib.store import dynamo

    item = dynamo.get(store.keys.audit_event(seq), consistent=True)
    return str(json.loads(item["body"])["time"]) if item else iso(now())


def list_anchors(actor: Actor, limit: int, cursor_text: str | None) -> dict[str, Any]:
    """A page of the tenant's anchors, oldest first, as `GET /v1/audit/anchors` answers."""
    from chalicelib.domain.anchors import AuditAnchorList

    store = for_actor(actor)
    items, next_cursor = store.page(
        store.anchors.list_page, query="audit-anchors", limit=limit, cursor_text=cursor_text
    )
    page = AuditAnchorList.model_validate({"items": items, "next_cursor": next_cursor})
    return page.model_dump(mode="json")
