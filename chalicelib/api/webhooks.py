"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint, etag
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from chalicelib.domain.webhooks import Webhook

bp = Blueprint(__name__)
TAG = "Webhooks"
WEBHOOKS = "/v1/webhooks"
WEBHOOK = WEBHOOKS + "/{webhook_id}"
DELIVERIES = WEBHOOK + "/deliveries"
DELIVERY = DELIVERIES + "/{delivery_id}"
SHAPES = "chalicelib.domain.webhooks:"
ADMIN = {Role.ADMIN}
READERS = {Role.ADMIN, Role.AUDITOR}
# `DeliveryStatus`'s values, written out so that declaring the route imports no pydantic
# module (tests/unit/test_route_literals.py holds them to the enum).
DELIVERY_STATUSES = ("pending", "retrying", "delivered", "failed")


def _reply(found: Webhook, status: int = 200) -> Reply:
    headers = {"ETag": etag(found.revision)}
    if status == 201:
        headers["Location"] = f"{WEBHOOKS}/{found.id}"
    return Reply(found, status, headers)


def _created(found: Webhook) -> Reply:
    return _reply(found, 201)


@endpoint(
    bp,
    "POST",
    WEBHOOKS,
    summary="Subscribe a URL to events; the signing secret is shown once",
    tag=TAG,
    roles=ADMIN,
    request=SHAPES + "WebhookCreate",
    response=SHAPES + "WebhookCreated",
    status=201,
    idempotent=True,
    errors=(422,),
)
def create_webhook(req: ApiRequest) -> Reply:
    from chalicelib.services import webhooks

    claim = req.claim_for(_created)
    return _created(webhooks.create_webhook(req.actor, req.body, claim))


@endpoint(
    bp,
    "GET",
    WEBHOOKS,
    summary="The tenant's webhook subscriptions (never their secrets)",
    tag=TAG,
    roles=READERS,
    response=SHAPES + "WebhookList",
    query=(LIMIT, CURSOR),
)
def list_webhooks(req: ApiRequest) -> Reply:
    from chalicelib.domain.webhooks import WebhookList
    from chalicelib.services import webhooks

    items, next_cursor = webhooks.list_webhooks(req.actor, req.limit, req.cursor)
    return Reply(WebhookList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    WEBHOOK,
    summary="A webhook subscription (never its secret)",
    tag=TAG,
    roles=READERS,
    response=SHAPES + "Webhook",
)
def get_webhook(req: ApiRequest, webhook_id: str) -> Reply:
    from chalicelib.services import webhooks

    return _reply(webhooks.get_webhook(req.actor, webhook_id))


@endpoint(
    bp,
    "PATCH",
    WEBHOOK,
    summary="Change a subscription's URL, events, description or enabled (merge patch)",
    tag=TAG,
    roles=ADMIN,
    request=SHAPES + "WebhookPatch",
    response=SHAPES + "Webhook",
    if_match=True,
    errors=(422,),
)
def update_webhook(req: ApiRequest, webhook_id: str) -> Reply:
    from chalicelib.services import webhooks

    return _reply(webhooks.update_webhook(req.actor, webhook_id, req.body, req.expected_revision))


@endpoint(
    bp,
    "DELETE",
    WEBHOOK,
    summary="Delete a subscription: nothing more is sent to it",
    tag=TAG,
    roles=ADMIN,
    status=204,
    errors=(409,),
)
def delete_webhook(req: ApiRequest, webhook_id: str) -> Reply:
    from chalicelib.services import webhooks

    webhooks.delete_webhook(req.actor, webhook_id)
    return Reply(None, 204)


@endpoint(
    bp,
    "POST",
    WEBHOOK + "/rotate-secret",
    summary=(
        "Replace the signing secret (shown once); the old one signs too for the overlap"
        " window, so receivers switch without a failed verification"
    ),
    tag=TAG,
    roles=ADMIN,
    request=SHAPES + "SecretRotation",
    response=SHAPES + "SecretRotated",
)
def rotate_webhook_secret(req: ApiRequest, webhook_id: str) -> Reply:
    from chalicelib.services import webhooks

    return _reply(webhooks.rotate_secret(req.actor, webhook_id, req.body))


@endpoint(
    bp,
    "POST",
    WEBHOOK + "/test",
    summary="Send a webhook.test event to this subscription now",
    tag=TAG,
    roles=ADMIN,
    response=SHAPES + "WebhookTestQueued",
    status=202,
    errors=(409,),
)
def test_webhook(req: ApiRequest, webhook_id: str) -> Reply:
    from chalicelib.services import webhooks

    queued = webhooks.send_test(req.actor, webhook_id)
    return Reply(queued, 202, {"Location": queued.link})


@endpoint(
    bp,
    "GET",
    DELIVERIES,
    summary="A subscription's deliveries, newest first: status, attempts, next attempt",
    tag=TAG,
    roles=READERS,
    response=SHAPES + "DeliveryList",
    query=(
        LIMIT,
        CURSOR,
        QueryParam("status", str, "Only deliveries in this status", DELIVERY_STATUSES),
    ),
)
def list_webhook_deliveries(req: ApiRequest, webhook_id: str) -> Reply:
    from chalicelib.domain.webhooks import DeliveryList
    from chalicelib.services import webhooks

    items, next_cursor = webhooks.list_deliveries(
        req.actor, webhook_id, req.limit, req.cursor, req.query.get("status")
    )
    return Reply(DeliveryList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    DELIVERY,
    summary="One delivery, with every attempt's status code, latency and error",
    tag=TAG,
    roles=READERS,
    response=SHAPES + "Delivery",
)
def get_webhook_delivery(req: ApiRequest, webhook_id: str, delivery_id: str) -> Reply:
    from chalicelib.services import webhooks

    return Reply(webhooks.get_delivery(req.actor, webhook_id, delivery_id))


@endpoint(
    bp,
    "POST",
    DELIVERY + "/redeliver",
    summary="Attempt a delivery again now, with a fresh retry schedule",
    tag=TAG,
    roles=ADMIN,
    response=SHAPES + "Delivery",
    status=202,
    errors=(409,),
)
def redeliver_webhook_delivery(req: ApiRequest, webhook_id: str, delivery_id: str) -> Reply:
    from chalicelib.services import webhooks

    return Reply(webhooks.redeliver(req.actor, webhook_id, delivery_id), 202)
