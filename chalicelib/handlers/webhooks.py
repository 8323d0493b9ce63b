"""Webhook delivery: the fan-out of events to subscriptions, the attempts, the sweeper."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.entrypoints import Message, Queue, consumer, schedule

bp = Blueprint(__name__)

# Every event family a subscription may take (tests/unit/test_webhook_rules.py holds this
# to the catalog): the fan-out topic hands each of their events to `fan_out_webhooks`.
FAMILIES = (
    "tenant.",
    "principal.",
    "api_key.",
    "model.",
    "policy.",
    "version.",
    "approval.",
    "artifact.",
    "webhook.",
    "finding.",
    "revalidation.",
    "audit.",
)
WEBHOOK_EVENTS = Queue(
    logical_id="WebhookEvents",
    env_var="CUSTOS_WEBHOOK_EVENTS_QUEUE_URL",
    visibility_timeout_seconds=60,
    subscribes_to=FAMILIES,
)
# An attempt's longest run: the receiver's timeout (5 s), KMS and DynamoDB, with room.
ATTEMPT_TIMEOUT = 30
# One message per delivery attempt; the visibility timeout is six times the function's,
# as AWS advises for SQS event sources.
WEBHOOK_DELIVERIES = Queue(
    logical_id="WebhookDeliveries",
    env_var="CUSTOS_WEBHOOK_DELIVERIES_QUEUE_URL",
    visibility_timeout_seconds=6 * ATTEMPT_TIMEOUT,
)
# The slow lane: attempts to subscriptions that answered slowly or failed lately, with
# workers of their own, so they never take the fast lane's (services/webhook_delivery.py).
WEBHOOK_DELIVERIES_SLOW = Queue(
    logical_id="WebhookDeliveriesSlow",
    env_var="CUSTOS_WEBHOOK_DELIVERIES_SLOW_QUEUE_URL",
    visibility_timeout_seconds=6 * ATTEMPT_TIMEOUT,
)


def _event_example() -> dict[str, Any]:
    from chalicelib.domain.models import Model

    example = Model.model_json_schema()["examples"][0]
    return {
        "id": "evt_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
        "type": "model.created",
        "tenant_id": "",
        "created_at": "2026-12-01T09:00:00.000Z",
        "data": example,
    }


@consumer(
    bp,
    function="fan_out_webhooks",
    queue_decl=WEBHOOK_EVENTS,
    part=SystemPart.WEBHOOK_DELIVERY,
    example=_event_example,
    # Events fan out independently of each other: several at once keep up with bursts.
    concurrency=4,
)
def fan_out_webhooks(actor: Actor, message: Message) -> None:
    """Make an event's deliveries, one per matching subscription, and queue them."""
    from chalicelib.services import webhook_delivery

    webhook_delivery.fan_out(actor, message)


@consumer(
    bp,
    function="deliver_webhook",
    queue_decl=WEBHOOK_DELIVERIES,
    part=SystemPart.WEBHOOK_DELIVERY,
    # One delivery a run, many runs at once: a slow receiver holds up only its own.
    batch_size=1,
    timeout_seconds=ATTEMPT_TIMEOUT,
    concurrency=10,
)
def deliver_webhook(actor: Actor, message: Message) -> None:
    """Make one attempt of one delivery, if it is still due."""
    from chalicelib.services import webhook_delivery

    webhook_delivery.attempt(actor, message)


@consumer(
    bp,
    function="deliver_webhook_slow",
    queue_decl=WEBHOOK_DELIVERIES_SLOW,
    part=SystemPart.WEBHOOK_DELIVERY,
    batch_size=1,
    timeout_seconds=ATTEMPT_TIMEOUT,
    concurrency=5,
)
def deliver_webhook_slow(actor: Actor, message: Message) -> None:
    """Make one attempt of a delivery to a subscription that is slow or failing lately."""
    from chalicelib.services import webhook_delivery

    webhook_delivery.attempt(actor, message)


@schedule(
    bp,
    function="sweep_webhook_deliveries",
    expression="rate(1 minute)",
    part=SystemPart.WEBHOOK_DELIVERY,
)
def sweep_webhook_deliveries(actor: Actor) -> dict[str, int]:
    """Queue the deliveries whose next attempt is due (retries past SQS's 15-minute delay)."""
    from chalicelib.services import webhook_delivery

    return webhook_delivery.sweep(actor)
