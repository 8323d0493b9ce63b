"""The time, as the parts of Custos that schedule work read it (webhook retries).

Injectable: tests set a clock they move by hand, so a schedule of days runs in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def _system() -> datetime:
    return datetime.now(UTC)


_clock: Clock = _system


def now() -> datetime:
    """The current time (UTC)."""
    return _clock()


def set_clock(clock: Clock) -> None:
    """Read the time from `clock` from now on (tests)."""
    global _clock
    _clock = clock


def reset() -> None:
    """Back to the system clock."""
    set_clock(_system)
