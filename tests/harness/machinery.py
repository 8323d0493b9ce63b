"""What tests that run the asynchronous machinery in-process share: a clock that moves only
when told, and draining the local dispatcher (tests/functional's webhook, compliance and
anchor worlds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


class FakeClock:
    """A clock that stands still until moved (`chalicelib.clock.set_clock(fake)`)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        """Move on `seconds`, or any timedelta fields (`advance(days=2)`)."""
        self.now += timedelta(seconds=seconds, **delta)


def drain(dispatcher: Any, passes: int = 300) -> int:
    """Pump the outbox relay and every queue until nothing moves; returns how many inputs
    were handed on. Fails if work still moves after `passes` rounds (a loop)."""
    moved = 0
    for _ in range(passes):
        step: int = dispatcher.pump_all()
        if not step:
            return moved
        moved += step
    raise AssertionError(f"the dispatcher kept finding work after {passes} passes")
