"""When the local dispatcher runs each declared schedule, and the event it hands the function.

`rate(n unit)` schedules fire every period from the dispatcher's start; `cron(...)`
schedules fire at the times `infra.cron` computes (UTC). Setting
`CUSTOS_LOCAL_SCHEDULE_SECONDS=N` makes every schedule fire every N seconds instead, so a
nightly job can be watched under `make run` without waiting for the night.

A schedule that fell behind (the machine slept, a handler ran long) fires once, not once
per missed time, as EventBridge does not replay missed invocations.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infra.cron import Cron

__all__ = ["LOCAL_PERIOD_ENV", "Timer", "local_period", "rate_seconds", "scheduled_event"]

LOCAL_PERIOD_ENV = "CUSTOS_LOCAL_SCHEDULE_SECONDS"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a `rate(...)` schedule; None for anything else."""
    match = _RATE.match(expression.strip())
    if not match or int(match.group(1)) < 1:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def local_period(environ: dict[str, str] | None = None) -> float | None:
    """The `CUSTOS_LOCAL_SCHEDULE_SECONDS` override, or None when it is not set."""
    text = (os.environ if environ is None else environ).get(LOCAL_PERIOD_ENV, "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise ValueError(f"{LOCAL_PERIOD_ENV} must be a number of seconds above 0, not {text!r}")
    return seconds


@dataclass
class Timer:
    """One schedule's next fire time. `following(after)` is the fire time after a moment
    (None: never again)."""

    function: str
    expression: str
    following: Callable[[datetime], datetime | None]
    due: datetime | None

    @classmethod
    def start(
        cls, function: str, expression: str, now: datetime, period: float | None = None
    ) -> Timer:
        """A timer whose first fire comes after `now`; `period` (seconds) overrides the
        expression."""
        every = period if period is not None else rate_seconds(expression)
        if every is not None:
            step = timedelta(seconds=every)
            return cls(function, expression, _every(step, now), now + step)
        if expression.strip().startswith("cron("):
            cron = Cron.parse(expression)
            return cls(function, expression, cron.next_after, cron.next_after(now))
        raise ValueError(f"schedule {function}: {expression!r} is neither rate(...) nor cron(...)")

    def take(self, now: datetime) -> datetime | None:
        """If the timer is due at `now`, the time it was due (and the timer moves on)."""
        if self.due is None or now < self.due:
            return None
        fired, self.due = self.due, self.following(now)
        return fired


def _every(step: timedelta, origin: datetime) -> Callable[[datetime], datetime]:
    """The next multiple of `step` after `origin` that is later than a moment."""

    def following(after: datetime) -> datetime:
        periods = (after - origin) // step + 1
        return origin + periods * step

    return following


def scheduled_event(
    rule: str, at: datetime, region: str = "us-east-1", account: str = "123456789012"
) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" a Lambda function receives, for the time `at`."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }
