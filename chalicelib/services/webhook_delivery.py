"""Delivering events to webhook subscriptions: the fan-out, one attempt, and the sweeper.

- **Fan-out** (`fan_out`, fed every deliverable event by the fan-out topic): one delivery
  per matching enabled subscription, stored (named by the event, so a redelivered message
  makes none twice), and one message per delivery on the deliveries queue, so a slow or
  failing receiver holds up only its own deliveries.
- **An attempt** (`attempt`, one message): the delivery is claimed with a lease, the URL
  is checked again after resolving its name and the connection pinned to the checked
  address, the body signed with every secret in force and POSTed; the outcome is logged on
  the delivery, which is then delivered, failed, or due again on the retry schedule
  (`domain/webhooks.RETRY_SCHEDULE`, kept as `next_attempt_at`). A 410 disables the
  subscription; so does failing for three days. Either is audited and announced
  (`webhook.disabled`, to the tenant's other subscriptions).
- **The sweeper** (`sweep`, every minute): sends the deliveries that are due and have no
  message on the way (SQS delays stop at 15 minutes; later retries wait here).

Delivery records are operational (`store/webhooks.py`); what they cause to governed state
(a subscription disabled) is a unit of work.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.audit import diff
from chalicelib.domain.destinations import DestinationError, parse
from chalicelib.domain.signatures import signature_header
from chalicelib.domain.webhooks import (
    DELIVERY_RETENTION,
    FAILING_DISABLES_AFTER,
    OPEN_STATUSES,
    SLOW_FOR,
    SLOW_LATENCY_MS,
    DeliveryStatus,
    DisabledReason,
    Outcome,
    Webhook,
    delivery_id_for,
    in_slow_lane,
    matches,
    retry_delay,
)
from chalicelib.entrypoints import Message
from chalicelib.services.records import public, to_model
from chalicelib.services.webhooks import SEALED, context
from chalicelib.store import outbound, queues
from chalicelib.store.scope import TenantStore, for_tenant
from chalicelib.store.sealed import SealError, open_sealed
from chalicelib.store.unit import RetryError, UnitOfWork
from chalicelib.store.webhooks import due_deliveries
from chalicelib.store.writer import iso

MAX_LOGGED_ATTEMPTS = 20  # the delivery log keeps the latest attempts of a delivery
EARLY_TOLERANCE = timedelta(seconds=1)  # a message this early still counts as due
SWEEP_GRACE = timedelta(seconds=60)  # a queued attempt this late is sent again
_rng = random.Random()


def _envelope(event: dict[str, Any]) -> str:
    """The body a receiver gets: exactly these five fields, compact JSON."""
    fields = ("id", "type", "tenant_id", "created_at", "data")
    return json.dumps({name: event.get(name) for name in fields}, separators=(",", ":"))


def _message(tenant_id: str, webhook_id: str, delivery_id: str) -> dict[str, str]:
    return {"tenant_id": tenant_id, "webhook_id": webhook_id, "delivery_id": delivery_id}


def _queue(slow: bool) -> str:
    """The lane's queue: a subscription slow or failing lately has workers of its own, so
    it never takes the others'."""
    options = settings().webhooks
    return options.slow_queue_url if slow else options.deliveries_queue_url


def _send_to_lanes(messages: list[tuple[dict[str, str], int, bool]]) -> None:
    """Send (message, delay, slow) to each lane's queue."""
    for slow in (False, True):
        lane = [(m, delay) for m, delay, is_slow in messages if is_slow is slow]
        if lane:
            queues.send(_queue(slow), lane)


# --- fan-out -----------------------------------------------------------------------------


def fan_out(actor: Actor, message: Message) -> None:
    """Make the deliveries of one event and queue their first attempts."""
    event = message.body if isinstance(message.body, dict) else {}
    kind, tenant_id = event.get("type"), message.tenant_id
    if not isinstance(kind, str) or not tenant_id or not isinstance(event.get("id"), str):
        return  # not an event envelope: nothing to deliver
    store = for_tenant(tenant_id)
    data = event.get("data") or {}
    if kind == events.WEBHOOK_REDELIVERY_REQUESTED.name:  # asked for by a person: now
        queues.send(
            _queue(False), [(_message(tenant_id, data["webhook_id"], data["delivery_id"]), 0)]
        )
        return
    declared = events.CATALOG.get(kind)
    if declared is None or declared.internal:
        return
    if kind == events.WEBHOOK_TEST.name:  # asked for: to the subscription it names only
        named = store.webhooks.get(str(data.get("webhook_id")))
        targets = [named] if named and named.get("enabled") else []
    else:
        targets = [
            sub
            for sub in store.webhooks.all_subscriptions()
            if sub.get("enabled") and matches(list(sub.get("events") or []), kind)
        ]
    if not targets:
        return
    moment = clock.now()
    at = iso(moment)
    body = _envelope(event)
    delivery_id = delivery_id_for(event["id"])
    health = store.webhooks.health_of([sub["id"] for sub in targets])
    pending = []
    for sub in targets:
        delivery = {
            "id": delivery_id,
            "webhook_id": sub["id"],
            "event_id": event["id"],
            "event_type": kind,
            "status": DeliveryStatus.PENDING.value,
            "attempt_count": 0,
            "attempts": [],
            "next_attempt_at": at,
            "queued_for": at,
            "series_start": 0,
            "created_at": at,
            "body": body,
            "expires_at": int((moment + DELIVERY_RETENTION).timestamp()),
        }
        store.webhooks.create_delivery(delivery)
        # Made before (a redelivered message) or just now: queue it; the claim keeps an
        # attempt from being made twice.
        slow = in_slow_lane(health.get(sub["id"]), at)
        pending.append((_message(tenant_id, sub["id"], delivery_id), 0, slow))
    _send_to_lanes(pending)


# --- one attempt -------------------------------------------------------------------------


def attempt(actor: Actor, message: Message) -> None:
    """Make the attempt a deliveries-queue message asks for, if it is still due."""
    body = message.body if isinstance(message.body, dict) else {}
    tenant_id, webhook_id, delivery_id = (
        message.tenant_id,
        body.get("webhook_id"),
        body.get("delivery_id"),
    )
    if not tenant_id or not isinstance(webhook_id, str) or not isinstance(delivery_id, str):
        return
    store = for_tenant(tenant_id)
    delivery, subscription, health = store.webhooks.for_attempt(webhook_id, delivery_id)
    if delivery is None or delivery.get("status") not in OPEN_STATUSES:
        return  # delivered, failed or gone: a late or repeated message
    moment = clock.now()
    if delivery.get("next_attempt_at") and delivery["next_attempt_at"] > iso(
        moment + EARLY_TOLERANCE
    ):
        return  # rescheduled since this message was sent; the sweeper sends it when due
    if subscription is None:
        _close(store, delivery, "the subscription was deleted", moment)
        return
    if not subscription.get("enabled"):
        _close(store, delivery, "the subscription is disabled", moment)
        return
    lease = iso(moment + timedelta(seconds=settings().webhooks.lease_seconds))
    if not store.webhooks.claim(delivery, lease, iso(moment), holder=message.id):
        return  # another worker holds it, or recorded an attempt since it was read
    try:
        outcome = _send(store, subscription, delivery, moment)
        _record(store, actor, health, delivery, outcome)
    except Exception:
        # The message comes back (Lambda retries it): let its redelivery make the attempt
        # again rather than wait out the lease. The receiver may see it twice, as the
        # Standard Webhooks id allows.
        with contextlib.suppress(Exception):  # else the lease lapses by itself
            store.webhooks.release(delivery, lease)
        raise


def _send(
    store: TenantStore, subscription: dict[str, Any], delivery: dict[str, Any], moment: datetime
) -> Outcome:
    """POST the delivery once; never raises for what the receiver or the network does."""
    options = settings().webhooks
    try:
        destination = parse(subscription["url"], allow_loopback=options.allow_loopback)
        address = outbound.resolve_checked(destination, allow_loopback=options.allow_loopback)
    except DestinationError as exc:
        return Outcome(None, 0.0, f"refused: {exc}", None)
    try:
        secrets = _secrets(store, subscription, moment)
    except SealError as exc:
        return Outcome(None, 0.0, f"the signing secret could not be opened ({exc})", None)
    raw = delivery["body"].encode()
    # The signature's time is the wall clock's (receivers compare it with theirs); the
    # schedule's is `clock` (injectable).
    stamp = int(time.time())
    headers = {
        "webhook-id": delivery["event_id"],
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature_header(secrets, delivery["event_id"], stamp, raw),
    }
    answer = outbound.post(destination, address, raw, headers, timeout=options.timeout_seconds)
    return Outcome(answer.status, answer.latency_ms, answer.error, answer.retry_after_seconds)


def _secrets(store: TenantStore, subscription: dict[str, Any], moment: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous during its overlap."""
    bound = context(store.tenant_id, subscription["id"])
    found = [open_sealed(subscription[SEALED[0]], bound)]
    until = subscription.get("previous_secret_expires_at")
    if subscription.get(SEALED[1]) and until and until > iso(moment):
        found.append(open_sealed(subscription[SEALED[1]], bound))
    return found


def _record(
    store: TenantStore,
    actor: Actor,
    health: dict[str, Any] | None,
    delivery: dict[str, Any],
    outcome: Outcome,
) -> None:
    """Log the attempt on the delivery and move it on; disable a subscription that is gone
    or has failed too long.

    The subscription's health and state are settled before the delivery is recorded: a
    failure in between brings the message back to a delivery still due, and doing them
    again changes nothing."""
    moment = clock.now()
    at = iso(moment)
    slow_until = iso(moment + SLOW_FOR)
    webhook_id = delivery["webhook_id"]
    if outcome.delivered and outcome.latency_ms > SLOW_LATENCY_MS:
        store.webhooks.slow_at(webhook_id, at, slow_until)
    elif outcome.delivered:
        if in_slow_lane(health, at):
            store.webhooks.succeeded_at(webhook_id, at)
    elif outcome.gone:
        disable(store, actor, webhook_id, DisabledReason.GONE)
    else:
        since = store.webhooks.failed_at(webhook_id, at, slow_until)
        if moment - datetime.fromisoformat(since) >= FAILING_DISABLES_AFTER:
            disable(store, actor, webhook_id, DisabledReason.FAILING)
    after, delay = _next_state(delivery, outcome, moment)
    queued = delay is not None and delay <= settings().webhooks.queue_delay_max_seconds
    if queued:
        after["queued_for"] = after["next_attempt_at"]
    if not store.webhooks.record(after, expected_count=int(delivery["attempt_count"])):
        return  # recorded by another worker whose lease outlived ours: keep theirs
    if queued and delay is not None:  # a retry: its subscription is failing, the slow lane
        message = _message(store.tenant_id, webhook_id, delivery["id"])
        queues.send(_queue(True), [(message, math.ceil(delay))])


def _next_state(
    delivery: dict[str, Any], outcome: Outcome, moment: datetime
) -> tuple[dict[str, Any], float | None]:
    """The delivery with this attempt logged, and the seconds until the next (None: none)."""
    at = iso(moment)
    count = int(delivery["attempt_count"])
    logged = {
        "number": count + 1,
        "at": at,
        "status_code": outcome.status_code,
        "latency_ms": round(outcome.latency_ms, 1),
        "error": outcome.error,
        "retry_after_seconds": outcome.retry_after_seconds,
    }
    after = {
        **delivery,
        "attempt_count": count + 1,
        "attempts": [*delivery.get("attempts", []), logged][-MAX_LOGGED_ATTEMPTS:],
        "last_status_code": outcome.status_code,
        "last_latency_ms": logged["latency_ms"],
        "next_attempt_at": None,
        "queued_for": None,
    }
    after.pop("lease_until", None)
    after.pop("lease_holder", None)
    if outcome.delivered:
        after.update(status=DeliveryStatus.DELIVERED.value, delivered_at=at)
        return after, None
    if outcome.gone:
        reason = "the receiver answered 410 Gone; the subscription is disabled"
        after.update(status=DeliveryStatus.FAILED.value, failed_at=at, failure_reason=reason)
        return after, None
    made = count + 1 - int(delivery.get("series_start") or 0)
    delay = retry_delay(made, outcome.retry_after_seconds, _rng)
    if delay is None:
        reason = f"no 2xx answer in {made} attempts"
        after.update(status=DeliveryStatus.FAILED.value, failed_at=at, failure_reason=reason)
        return after, None
    due = iso(moment + timedelta(seconds=delay))
    after.update(status=DeliveryStatus.RETRYING.value, next_attempt_at=due)
    return after, delay


def _close(store: TenantStore, delivery: dict[str, Any], reason: str, moment: datetime) -> None:
    """End a delivery whose subscription is gone or disabled (a redelivery may reopen it)."""
    at = iso(moment)
    closed = {
        **delivery,
        "status": DeliveryStatus.FAILED.value,
        "failed_at": at,
        "failure_reason": reason,
        "next_attempt_at": None,
        "queued_for": None,
    }
    store.webhooks.record(closed, expected_count=int(delivery["attempt_count"]))


def disable(store: TenantStore, actor: Actor, webhook_id: str, reason: DisabledReason) -> None:
    """Disable a subscription (audited; `webhook.disabled` goes to the tenant's others)."""
    for _ in range(5):
        item = store.webhooks.get(webhook_id)
        if item is None or not item.get("enabled"):
            return
        current = to_model(Webhook, item)
        at = iso(clock.now())
        updated = Webhook.model_validate(
            {
                **public(current),
                "enabled": False,
                "disabled_reason": reason,
                "disabled_at": at,
                "updated_at": at,
                "revision": current.revision + 1,
            }
        )
        stored = {**public(updated), **{k: item[k] for k in SEALED if item.get(k)}}
        before, after = diff(public(current), public(updated))
        unit = UnitOfWork()
        unit.add("webhook", store.webhooks.put_replace(stored, current.revision), RetryError)
        unit.record(events.WEBHOOK_DISABLED.name, "webhook", webhook_id, before=before, after=after)
        unit.emit(events.WEBHOOK_DISABLED.of(updated))
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return


# --- the sweeper ---------------------------------------------------------------------------


def sweep(actor: Actor) -> dict[str, int]:
    """Queue every delivery whose attempt is due and has no message on the way."""
    moment = clock.now()
    now, late = iso(moment), iso(moment - SWEEP_GRACE)
    messages = []
    for item in due_deliveries(now):
        if item.get("lease_until") and item["lease_until"] > now:
            continue  # in flight
        queued_for = item.get("queued_for")
        if queued_for and queued_for == item.get("next_attempt_at") and queued_for > late:
            continue  # its message is on the way
        # Retries go to the slow lane (their subscription failed); first attempts whose
        # message was lost, and redeliveries, to the fast one.
        retry = int(item.get("attempt_count") or 0) > int(item.get("series_start") or 0)
        messages.append((_message(item["tenant_id"], item["webhook_id"], item["id"]), 0, retry))
    _send_to_lanes(messages)
    return {"sent": len(messages)}
