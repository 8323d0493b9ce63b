"""Webhook subscriptions and their deliveries, as shapes, and the rules of delivery.

A subscription names a URL and the event types it takes (`model.created`, a family
`approval.*`, or `*`); Custos signs every delivery the Standard Webhooks way
(`domain/signatures.py`) with the subscription's `whsec_` secret, which is shown once and
stored encrypted. A delivery is one event for one subscription: its attempts follow
`RETRY_SCHEDULE`, and each attempt is logged on it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, NamedTuple

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.domain.models import Inbound, ListPage, Outbound, WholeNumber, patch_config

# The Standard Webhooks schedule: the first attempt at once, then each retry this long after
# the attempt before it failed. Ten attempts over about three days and three hours.
RETRY_SCHEDULE: tuple[int, ...] = (
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
)
JITTER = 0.1  # a retry waits its delay give or take 10%, so failed receivers are not hit in step
MAX_RETRY_AFTER_SECONDS = 24 * 3600  # a receiver's Retry-After is honoured up to a day
FAILING_DISABLES_AFTER = timedelta(days=3)  # failing this long, a subscription is disabled
DEFAULT_OVERLAP_SECONDS = 24 * 3600  # after a rotation, the old secret signs this long too
MAX_OVERLAP_SECONDS = 7 * 24 * 3600
DELIVERY_RETENTION = timedelta(days=30)  # how long the delivery log keeps a delivery
MAX_EVENT_PATTERNS = 50
# A subscription whose receiver answered slower than this, or failed, goes to the slow lane
# (its own queue and workers) until it has answered fast again, or for SLOW_FOR.
SLOW_LATENCY_MS = 1000.0
SLOW_FOR = timedelta(minutes=10)
ALL = "*"

# An event type (`approval.requested`), a family (`approval.*`) or every type (`*`).
EventPattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^(\*|[a-z_]+\.\*|[a-z_]+\.[a-z_]+)$"),
]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Description = Annotated[
    str, StringConstraints(max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
]
OverlapSeconds = Annotated[int, Field(ge=0, le=MAX_OVERLAP_SECONDS), WholeNumber]
WEBHOOK_NOT_NULL = frozenset({"url", "events", "enabled"})


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether a subscription taking `patterns` takes events of `event_type`."""
    family = event_type.split(".", 1)[0] + ".*"
    return any(p in (ALL, event_type, family) for p in patterns)


def retry_delay(attempts_made: int, retry_after: float | None, rng: random.Random) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones; None when the
    schedule is spent. A receiver's `Retry-After` is honoured when it asks for longer."""
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[attempts_made]
    jittered = delay * rng.uniform(1 - JITTER, 1 + JITTER) if delay else 0.0
    if retry_after is not None:
        jittered = max(jittered, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return jittered


def in_slow_lane(health: dict[str, object] | None, now: str) -> bool:
    """Whether a subscription's attempts go to the slow lane now (its health record says
    it failed, or answered slowly, lately)."""
    if not health:
        return False
    until = health.get("slow_until")
    return bool(health.get("failing_since")) or (isinstance(until, str) and until > now)


def delivery_id_for(event_id: str) -> str:
    """The delivery of event `event_id` to a subscription: one per event and subscription,
    named by the event, so a redelivered fan-out message finds it made."""
    return "dlv_" + event_id.split("_", 1)[1]


class DisabledReason(StrEnum):
    ADMIN = "admin"  # an admin set enabled: false
    GONE = "gone"  # the receiver answered 410 Gone
    FAILING = "failing"  # every attempt failed for FAILING_DISABLES_AFTER


class WebhookCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.bank.example/custos",
                    "events": ["approval.requested", "approval.escalated", "approval.*"],
                    "description": "Model-risk approvals channel",
                },
                # A receiver on the developer's machine: accepted only where the local
                # development setting allows loopback receivers (make run).
                {
                    "url": "http://localhost:9999/hooks",
                    "events": ["*"],
                    "description": "Local receiver",
                },
            ]
        }
    )
    url: Url = Field(description="https (or http) URL the events are POSTed to")
    events: list[EventPattern] = Field(
        min_length=1,
        max_length=MAX_EVENT_PATTERNS,
        description="Event types (`model.created`), families (`approval.*`) or `*`",
    )
    description: Description = ""
    enabled: bool = True


class WebhookPatch(Inbound):
    model_config = patch_config({"enabled": True}, WEBHOOK_NOT_NULL)
    url: Url | None = None
    events: list[EventPattern] | None = Field(
        default=None, min_length=1, max_length=MAX_EVENT_PATTERNS
    )
    description: Description | None = None
    enabled: bool | None = None


class Webhook(Outbound):
    """A subscription, never with its secret."""

    id: str
    url: str
    events: list[str]
    description: str = ""
    enabled: bool
    disabled_reason: DisabledReason | None = None
    disabled_at: datetime | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime | None = None
    previous_secret_expires_at: datetime | None = Field(
        default=None,
        description="Until then deliveries carry a signature with the previous secret too",
    )
    revision: int


class WebhookCreated(Webhook):
    secret: str | None = Field(
        description=(
            "The `whsec_` signing secret, shown once. An Idempotency-Key replay answers null"
            " here: Custos keeps the secret only encrypted, and never shows it again."
        )
    )


class WebhookList(ListPage):
    items: list[Webhook]


class SecretRotation(Inbound):
    model_config = ConfigDict(json_schema_extra={"examples": [{"overlap_seconds": 3600}, {}]})
    overlap_seconds: OverlapSeconds = Field(
        default=DEFAULT_OVERLAP_SECONDS,
        description="How long deliveries are signed with the old secret too (0: not at all)",
    )


class SecretRotated(Webhook):
    secret: str = Field(description="The new `whsec_` signing secret, shown once")


class WebhookTest(Outbound):
    """The payload of `webhook.test`, and of its delivery."""

    webhook_id: str
    message: str


class WebhookTestQueued(Outbound):
    webhook_id: str
    event_id: str
    delivery_id: str
    link: str = Field(description="The delivery in the API")


class Redelivery(Outbound):
    """The payload of the internal event that brings a delivery's next attempt to now."""

    webhook_id: str
    delivery_id: str


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt
    RETRYING = "retrying"  # an attempt failed; another is scheduled (`next_attempt_at`)
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # no more attempts: see `failure_reason`


OPEN_STATUSES = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)


class DeliveryAttempt(Outbound):
    number: int
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status; null if none")
    latency_ms: float
    error: str | None = Field(default=None, description="Why there was no 2xx, when known")
    retry_after_seconds: float | None = None


class Delivery(Outbound):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    attempts: list[DeliveryAttempt]
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_latency_ms: float | None = None
    failure_reason: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    redelivered_at: datetime | None = None


class DeliveryList(ListPage):
    items: list[Delivery]


class Outcome(NamedTuple):
    """What one attempt came to, as the delivery records it."""

    status_code: int | None
    latency_ms: float
    error: str | None
    retry_after_seconds: float | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410
