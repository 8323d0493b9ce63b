"""The pure rules of webhook delivery: which events a subscription takes, and when an
attempt that failed is tried again."""

from __future__ import annotations

import random

import pytest

from chalicelib.domain import events
from chalicelib.domain.webhooks import (
    JITTER,
    MAX_RETRY_AFTER_SECONDS,
    RETRY_SCHEDULE,
    delivery_id_for,
    matches,
    retry_delay,
)
from chalicelib.handlers.webhooks import FAMILIES


def test_the_schedule_is_the_standard_webhooks_one() -> None:
    hours = 3600
    assert (
        0, 5, 300, 1800, 2 * hours, 5 * hours, 10 * hours, 14 * hours, 20 * hours, 24 * hours
    ) == RETRY_SCHEDULE  # fmt: skip


@pytest.mark.parametrize(
    ("patterns", "event_type", "taken"),
    [
        (["*"], "model.created", True),
        (["model.*"], "model.created", True),
        (["model.created"], "model.created", True),
        (["model.updated"], "model.created", False),
        (["approval.*"], "model.created", False),
        (["mode.*"], "model.created", False),
        (["model"], "model.created", False),
    ],
)
def test_a_subscription_takes_exactly_the_types_and_families_it_names(
    patterns: list[str], event_type: str, taken: bool
) -> None:
    assert matches(patterns, event_type) is taken


def test_every_retry_waits_its_scheduled_delay_give_or_take_the_jitter() -> None:
    rng = random.Random(7)
    for made, delay in enumerate(RETRY_SCHEDULE):
        for _ in range(20):
            waited = retry_delay(made, None, rng)
            assert waited is not None
            assert delay * (1 - JITTER) <= waited <= delay * (1 + JITTER)
    assert retry_delay(len(RETRY_SCHEDULE), None, rng) is None


def test_retry_after_is_honoured_when_longer_and_capped_at_a_day() -> None:
    rng = random.Random(1)
    assert retry_delay(1, 120, rng) == 120  # the schedule says 5 s
    waited = retry_delay(3, 60, rng)  # the schedule says 30 min: that stands
    assert waited is not None and waited >= 1800 * (1 - JITTER)
    assert retry_delay(1, 10 * 86400, rng) == MAX_RETRY_AFTER_SECONDS


def test_a_delivery_is_named_by_its_event() -> None:
    assert delivery_id_for("evt_01JDQ4W9V3N8Y6Z5X2K7M1P0RS") == "dlv_01JDQ4W9V3N8Y6Z5X2K7M1P0RS"


def test_the_fan_out_queue_takes_every_deliverable_event_family() -> None:
    for kind in events.deliverable():
        assert kind.name.startswith(FAMILIES), f"{kind.name} would never reach webhooks"
    # Families of internal events only (a scan request, an export request) need not reach
    # the fan-out.
    families = {kind.name.split(".", 1)[0] + "." for kind in events.deliverable()}
    assert set(FAMILIES) == families
