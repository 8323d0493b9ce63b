"""Compliance scans: asking for one, following it, and starting every tenant's on schedule.

A scan of one tenant runs in a queue consumer (`handlers/compliance.py`), one message per
tenant, so a slow or huge tenant holds up no other and a failed one is retried alone. A
scan asked for through the API is a unit of work: its record, the audit entry and the
internal event `compliance_scan.requested`, which the fan-out hands to the scan queue; no
queue is called on the request path. The schedule sends the same message for each active
tenant itself.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.findings import ComplianceScan, ScanRequested, ScanStarted, ScanStatus
from chalicelib.domain.ids import is_id, new_id
from chalicelib.errors import NotFoundError
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.findings import SCAN_RETENTION_SECONDS
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import for_actor
from chalicelib.store.unit import UnitOfWork

SCANS = "/v1/compliance-scans"


def request_scan(actor: Actor, claim: Claim | None = None) -> ScanStarted:
    """Queue a scan of the actor's tenant now; follow it at the answer's link."""
    store = for_actor(actor)
    scan = ComplianceScan.model_validate(
        {
            "id": new_id("scan"),
            "status": ScanStatus.QUEUED,
            "trigger": "request",
            "requested_by": actor.principal_id,
            "created_at": timestamp(),
        }
    )
    started = ScanStarted(id=scan.id, status=scan.status, link=f"{SCANS}/{scan.id}")
    unit = UnitOfWork()
    expires = int(time.time()) + SCAN_RETENTION_SECONDS
    unit.add("scan", store.findings.put_scan_op(public(scan), expires))
    unit.record("compliance_scan.requested", "compliance_scan", scan.id, after=public(scan))
    unit.emit(events.COMPLIANCE_SCAN_REQUESTED.of(ScanRequested(scan_id=scan.id)))
    unit.replay_answer(claim.response(started) if claim else None)
    store.commit(actor, unit)
    return started


def get_scan(actor: Actor, scan_id: str) -> ComplianceScan:
    """A scan of the actor's tenant: its status, phase and counts; 404 for any other."""
    store = for_actor(actor)
    item = store.findings.get_scan(scan_id) if is_id(scan_id, "scan") else None
    if item is None:
        raise NotFoundError(f"no compliance scan {scan_id}")
    return to_model(ComplianceScan, item)


def list_scans(
    actor: Actor, limit: int, cursor_text: str | None
) -> tuple[list[ComplianceScan], str | None]:
    """A page of the tenant's scans, newest first (records are kept 90 days)."""
    store = for_actor(actor)
    items, next_cursor = store.page(
        lambda size, start: store.findings.list_scans_page(size, start),
        query="compliance-scans",
        limit=limit,
        cursor_text=cursor_text,
    )
    return [to_model(ComplianceScan, i) for i in items], next_cursor


def scan_message(tenant_id: str, scan_id: str, trigger: str) -> dict[str, Any]:
    """The message that starts one tenant's scan: the event's own envelope, as the
    fan-out delivers `compliance_scan.requested`."""
    return {
        "type": events.COMPLIANCE_SCAN_REQUESTED.name,
        "tenant_id": tenant_id,
        "created_at": timestamp(),
        "data": {"scan_id": scan_id, "trigger": trigger},
    }


def start_all(actor: Actor, queue_url: str) -> dict[str, int]:
    """The schedule: one scan message per active tenant, sent ten at a time."""
    from chalicelib.store import queues, tenants

    sent = skipped = 0
    start: dict[str, Any] | None = None
    while True:
        page, start = tenants.list_page(100, start)
        messages = []
        for tenant in page:
            if tenant.get("status") != "active":
                skipped += 1
                continue
            messages.append((scan_message(str(tenant["id"]), new_id("scan"), "schedule"), 0))
        queues.send(queue_url, messages)
        sent += len(messages)
        if not start:
            return {"tenants": sent, "skipped": skipped}


def run_from(actor: Actor, body: Any) -> dict[str, Any]:
    """Run the scan a message names (read tolerantly: an event envelope)."""
    from chalicelib.services import scan

    data = body.get("data") if isinstance(body, dict) else None
    tenant_id = body.get("tenant_id") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(tenant_id, str) or not tenant_id:
        return {"skipped": "not a scan message"}
    scan_id = data.get("scan_id")
    if not isinstance(scan_id, str) or not is_id(scan_id, "scan"):
        return {"skipped": "no scan id"}
    return scan.run(actor, tenant_id, scan_id, str(data.get("trigger") or "request"))
