"""Webhook subscriptions, as a tenant's admins manage them: subscribe, read, change,
delete, rotate the signing secret, send a test event, read the delivery log, redeliver.

Every change is a unit of work (audited, with its event). The signing secret is made
here, shown once and stored only sealed with KMS (`store/sealed.py`). A URL is checked
against the SSRF rules when it is registered (and again before every send, by the
delivery worker), after resolving its name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.audit import diff
from chalicelib.domain.destinations import DestinationError, parse
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.signatures import new_secret
from chalicelib.domain.webhooks import (
    ALL,
    DELIVERY_RETENTION,
    WEBHOOK_NOT_NULL,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    Redelivery,
    SecretRotated,
    SecretRotation,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookPatch,
    WebhookTest,
    WebhookTestQueued,
    delivery_id_for,
)
from chalicelib.errors import (
    ConflictError,
    DomainRuleError,
    FieldError,
    NotFoundError,
    PreconditionFailedError,
)
from chalicelib.services.idempotency import Claim
from chalicelib.services.records import merge_patch, public, to_model, validated
from chalicelib.store.outbound import resolve_checked
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.sealed import seal
from chalicelib.store.unit import UnitOfWork
from chalicelib.store.writer import iso

SEALED = ("secret_sealed", "previous_secret_sealed")  # stored beside the public fields


def context(tenant_id: str, webhook_id: str) -> dict[str, str]:
    """The KMS encryption context a subscription's secrets are sealed under."""
    return {"tenant_id": tenant_id, "webhook_id": webhook_id}


def checked_url(url: str, field: str = "body.url") -> str:
    """`url`, if the SSRF rules let Custos send to it now (422 naming why, otherwise)."""
    allow = settings().webhooks.allow_loopback
    try:
        resolve_checked(parse(url, allow_loopback=allow), allow_loopback=allow)
    except DestinationError as exc:
        raise DomainRuleError(f"url: {exc}", errors=[FieldError(field, str(exc))]) from exc
    return url


def checked_events(patterns: list[str], field: str = "body.events") -> list[str]:
    """The patterns, each naming a deliverable event type or family (422 otherwise)."""
    types = {kind.name for kind in events.deliverable()}
    families = {name.split(".", 1)[0] + ".*" for name in types}
    errors = [
        FieldError(f"{field}[{index}]", "no such event type or family")
        for index, pattern in enumerate(patterns)
        if pattern != ALL and pattern not in types and pattern not in families
    ]
    if errors:
        raise DomainRuleError("events: unknown event types", errors=errors)
    return list(dict.fromkeys(patterns))


def _now() -> str:
    return iso(clock.now())


def _read(store: TenantStore, webhook_id: str) -> dict[str, Any]:
    item = store.webhooks.get(webhook_id) if is_id(webhook_id, "webhook") else None
    if item is None:
        raise NotFoundError(f"no webhook {webhook_id}")
    return item


def _stored(view: Webhook, sealed: dict[str, Any]) -> dict[str, Any]:
    """The item of a subscription: its public fields and its sealed secrets."""
    return {**public(view), **{k: sealed[k] for k in SEALED if sealed.get(k)}}


def _stale() -> Exception:
    return PreconditionFailedError("the webhook changed since it was read")


def create_webhook(actor: Actor, body: WebhookCreate, claim: Claim | None = None) -> WebhookCreated:
    """Subscribe `body.url` to `body.events`; the answer shows the signing secret once."""
    store = for_actor(actor)
    url = checked_url(body.url)
    patterns = checked_events(body.events)
    webhook_id = new_id("webhook")
    secret = new_secret()
    sealed = seal(secret, context(store.tenant_id, webhook_id))
    at = _now()
    view = Webhook.model_validate(
        {
            "id": webhook_id,
            "url": url,
            "events": patterns,
            "description": body.description,
            "enabled": body.enabled,
            "disabled_reason": None if body.enabled else DisabledReason.ADMIN,
            "disabled_at": None if body.enabled else at,
            "created_by": str(actor.principal_id),
            "created_at": at,
            "updated_at": at,
            "revision": 1,
        }
    )
    result = WebhookCreated(**view.model_dump(), secret=secret)
    unit = UnitOfWork()
    unit.add("webhook", store.webhooks.put_new(_stored(view, {"secret_sealed": sealed})))
    unit.record(events.WEBHOOK_CREATED.name, "webhook", webhook_id, after=public(view))
    unit.emit(events.WEBHOOK_CREATED.of(view))
    unit.replay_answer(
        claim.response(result.model_copy(update={"secret": None})) if claim else None
    )
    store.commit(actor, unit)
    return result


def get_webhook(actor: Actor, webhook_id: str) -> Webhook:
    return to_model(Webhook, _read(for_actor(actor), webhook_id))


def list_webhooks(
    actor: Actor, limit: int, cursor_text: str | None
) -> tuple[list[Webhook], str | None]:
    """A page of the tenant's subscriptions, oldest first."""
    store = for_actor(actor)
    items, next_cursor = store.page(
        store.webhooks.list_page, query="webhooks", limit=limit, cursor_text=cursor_text
    )
    return [to_model(Webhook, i) for i in items], next_cursor


def update_webhook(
    actor: Actor, webhook_id: str, patch: WebhookPatch, if_match: Callable[[int], int]
) -> Webhook:
    """Merge-patch a subscription's URL, events, description or `enabled`. Enabling a
    disabled subscription starts its failure count afresh."""
    store = for_actor(actor)
    item = _read(store, webhook_id)
    current = to_model(Webhook, item)
    revision = if_match(current.revision)
    merged = merge_patch(public(current), patch, required=WEBHOOK_NOT_NULL)
    merged["description"] = merged.get("description") or ""
    if patch.url is not None and patch.url != current.url:
        merged["url"] = checked_url(patch.url)
    if patch.events is not None:
        merged["events"] = checked_events(patch.events)
    at = _now()
    if patch.enabled is False and current.enabled:
        merged.update(disabled_reason=DisabledReason.ADMIN.value, disabled_at=at)
    elif patch.enabled and not current.enabled:
        merged.update(disabled_reason=None, disabled_at=None)
    merged.update(updated_at=at, revision=revision + 1)
    updated = validated(Webhook, merged)
    before, after = diff(public(current), public(updated))
    if not set(after) - {"updated_at", "revision"}:
        return current
    unit = UnitOfWork()
    unit.add("webhook", store.webhooks.put_replace(_stored(updated, item), revision), _stale)
    if updated.enabled and not current.enabled:
        unit.add("health", store.webhooks.forget_health(webhook_id))
    unit.record(events.WEBHOOK_UPDATED.name, "webhook", webhook_id, before=before, after=after)
    store.commit(actor, unit.emit(events.WEBHOOK_UPDATED.of(updated)))
    return updated


def delete_webhook(actor: Actor, webhook_id: str) -> None:
    """Delete a subscription: nothing more is sent to it (attempts due find it gone)."""
    store = for_actor(actor)
    item = _read(store, webhook_id)
    current = to_model(Webhook, item)
    unit = UnitOfWork()
    unit.add(
        "webhook",
        store.webhooks.delete(webhook_id, current.revision),
        lambda: ConflictError("the webhook changed while it was being deleted; try again"),
    )
    unit.add("health", store.webhooks.forget_health(webhook_id))
    unit.record(events.WEBHOOK_DELETED.name, "webhook", webhook_id, before=public(current))
    store.commit(actor, unit.emit(events.WEBHOOK_DELETED.of(current)))


def rotate_secret(actor: Actor, webhook_id: str, body: SecretRotation) -> SecretRotated:
    """A new signing secret, shown once. For `body.overlap_seconds` deliveries are signed
    with the old one too, so receivers can switch without a failed verification; a
    secret older than the one replaced stops signing at once."""
    store = for_actor(actor)
    item = _read(store, webhook_id)
    current = to_model(Webhook, item)
    secret = new_secret()
    sealed = {"secret_sealed": seal(secret, context(store.tenant_id, webhook_id))}
    moment = clock.now()
    at = iso(moment)
    until = None
    if body.overlap_seconds:
        until = iso(moment + timedelta(seconds=body.overlap_seconds))
        sealed["previous_secret_sealed"] = item["secret_sealed"]
    updated = validated(
        Webhook,
        {
            **public(current),
            "secret_rotated_at": at,
            "previous_secret_expires_at": until,
            "updated_at": at,
            "revision": current.revision + 1,
        },
    )
    before, after = diff(public(current), public(updated))
    unit = UnitOfWork()
    unit.add("webhook", store.webhooks.put_replace(_stored(updated, sealed), current.revision))
    unit.record(
        events.WEBHOOK_SECRET_ROTATED.name, "webhook", webhook_id, before=before, after=after
    )
    store.commit(actor, unit.emit(events.WEBHOOK_SECRET_ROTATED.of(updated)))
    return SecretRotated(**updated.model_dump(), secret=secret)


def send_test(actor: Actor, webhook_id: str) -> WebhookTestQueued:
    """Queue a `webhook.test` event for this subscription only; it is sent at once."""
    store = for_actor(actor)
    current = to_model(Webhook, _read(store, webhook_id))
    if not current.enabled:
        raise ConflictError("the webhook is disabled; enable it first")
    event_id = new_id("event")
    payload = WebhookTest(webhook_id=webhook_id, message="A test event from Custos")
    unit = UnitOfWork()
    unit.add(
        "webhook",
        store.webhooks.check_enabled(webhook_id),
        lambda: ConflictError("the webhook was disabled or deleted meanwhile"),
    )
    unit.record("webhook.test_requested", "webhook", webhook_id, after={"event_id": event_id})
    store.commit(actor, unit.emit(events.WEBHOOK_TEST.of(payload, event_id)))
    delivery_id = delivery_id_for(event_id)
    return WebhookTestQueued(
        webhook_id=webhook_id,
        event_id=event_id,
        delivery_id=delivery_id,
        link=f"/v1/webhooks/{webhook_id}/deliveries/{delivery_id}",
    )


# --- the delivery log ---------------------------------------------------------------------


def list_deliveries(
    actor: Actor, webhook_id: str, limit: int, cursor_text: str | None, status: str | None
) -> tuple[list[Delivery], str | None]:
    """A page of a subscription's deliveries, newest first."""
    store = for_actor(actor)
    _read(store, webhook_id)

    def fetch(size: int, start: dict[str, Any] | None) -> Any:
        return store.webhooks.deliveries_page(webhook_id, size, start, status)

    items, next_cursor = store.page(
        fetch,
        query=f"deliveries#{webhook_id}",
        limit=limit,
        cursor_text=cursor_text,
        filtered=status is not None,
        status=status,
    )
    return [to_model(Delivery, i) for i in items], next_cursor


def _read_delivery(store: TenantStore, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    found = None
    if is_id(webhook_id, "webhook") and is_id(delivery_id, "delivery"):
        found = store.webhooks.get_delivery(webhook_id, delivery_id)
    if found is None:
        raise NotFoundError(f"no delivery {delivery_id} of webhook {webhook_id}")
    return found


def get_delivery(actor: Actor, webhook_id: str, delivery_id: str) -> Delivery:
    return to_model(Delivery, _read_delivery(for_actor(actor), webhook_id, delivery_id))


def redeliver(actor: Actor, webhook_id: str, delivery_id: str) -> Delivery:
    """Attempt a delivery again now, with a fresh retry schedule (a delivered one too: the
    receiver may have lost it). The same `webhook-id` is sent, so receivers that saw it
    can tell."""
    store = for_actor(actor)
    webhook = to_model(Webhook, _read(store, webhook_id))
    item = _read_delivery(store, webhook_id, delivery_id)
    if not webhook.enabled:
        raise ConflictError("the webhook is disabled; enable it first")
    moment = clock.now()
    at = iso(moment)
    if item.get("lease_until") and item["lease_until"] > at:
        raise ConflictError("an attempt of this delivery is in flight; try again shortly")
    settled = {k: v for k, v in item.items() if k not in ("lease_until", "lease_holder")}
    again = {
        **settled,
        "status": DeliveryStatus.PENDING.value,
        "next_attempt_at": at,
        "failure_reason": None,
        "failed_at": None,
        "redelivered_at": at,
        "series_start": item["attempt_count"],
        "expires_at": int((moment + DELIVERY_RETENTION).timestamp()),
    }
    unit = UnitOfWork()
    unit.add(
        "delivery",
        store.webhooks.redeliver(again, at),
        lambda: ConflictError("the delivery changed meanwhile; read it and try again"),
    )
    unit.record(
        "webhook.redelivery_requested",
        "webhook_delivery",
        delivery_id,
        before={"status": item["status"]},
        after={"status": again["status"], "webhook_id": webhook_id},
    )
    unit.emit(
        events.WEBHOOK_REDELIVERY_REQUESTED.of(
            Redelivery(webhook_id=webhook_id, delivery_id=delivery_id)
        )
    )
    store.commit(actor, unit)
    return to_model(Delivery, again)
