"""How quickly webhooks reach their receivers, and whether slow receivers slow the others,
on `make run`'s stack (an embedded moto server, the local dispatcher driving the relay,
the fan-out and the delivery lanes as Lambda would). Receivers are real HTTP servers on
127.0.0.1 (`make run` allows loopback receivers).

1. **Commit to 2xx**: one subscription to `model.created`; `EVENTS` models are registered
   at a steady `RATE` a second (one client, paced) and each event's latency is the
   receiver's clock when the request arrived minus the event's `created_at` (the commit's
   time, milliseconds). p50 and p99. (Bursts faster than the stack delivers measure its
   queue instead: part 2 gives the delivery rate.)
2. **Deliveries per second, 10 subscriptions, 3 of them slow**: ten subscriptions to
   `model.created`. Baseline: all ten answer at once; `BURST` models are registered and the
   rate at which the seven that stay fast get theirs is measured (their deliveries over the
   time from the first registration to the last of them received). Then three subscriptions
   are pointed at receivers that take 2 s to answer; once one event has shown them slow,
   the same burst is measured again. The slow ones' own rate is printed too. The figure
   asked for: the fast seven's rate with the slow three beside them, against the baseline
   (a drop of at most 20% is the aim; a figure, not a gate), with the load average.

`python -m bench.webhooks` prints this part alone; `python -m bench` runs every part.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime
from typing import Any

from bench.report import Report
from bench.seed import PLATFORM_KEY
from tests.harness.clients import Answer as ApiAnswer
from tests.harness.clients import HttpApi
from tests.harness.receiver import Answer, Receiver, receiving
from tests.harness.stack import LocalStack, start

EVENTS = 500
RATE = 10  # events a second offered in part 1
BURST = 60
SUBSCRIPTIONS = 10
SLOW = 3
SLOW_SECONDS = 2.0
CLIENTS = 4
WAIT_SECONDS = 300


def _ok(answer: ApiAnswer, status: int = 201) -> Any:
    if answer.status != status:
        raise RuntimeError(f"expected {status}, got {answer.status}: {answer.json}")
    return answer.json


def _until(found: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found():
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what}: not reached within {seconds} s")


class Bench:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.admin = stack.key("admin")
        self.developer = stack.key("developer")
        self.api = HttpApi(stack.base_url, timeout=60)
        self.made = 0

    def subscribe(self, url: str) -> dict[str, Any]:
        body = {"url": url, "events": ["model.created"]}
        found: dict[str, Any] = _ok(self.api.post("/v1/webhooks", self.admin, body))
        return found

    def point(self, hook: dict[str, Any], url: str) -> None:
        current = _ok(self.api.get(f"/v1/webhooks/{hook['id']}", self.admin), 200)
        etag = f'"{current["revision"]}"'
        path = f"/v1/webhooks/{hook['id']}"
        _ok(self.api.patch(path, self.admin, {"url": url}, etag), 200)

    def delete(self, hook: dict[str, Any]) -> None:
        _ok(self.api.delete(f"/v1/webhooks/{hook['id']}", self.admin), 204)

    def paced(self, count: int, rate: float) -> None:
        """Register `count` models one at a time, `rate` a second."""
        started = time.monotonic()
        for n in range(count):
            body = {"name": f"Paced {n}", "purpose": "webhook bench", "risk_tier": 3}
            _ok(self.api.post("/v1/models", self.developer, body))
            pause = started + (n + 1) / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    def register(self, count: int) -> float:
        """Register `count` models, `CLIENTS` at a time; returns when the first was sent."""
        started = time.time()
        first = self.made
        self.made += count

        def one(n: int) -> None:
            api = HttpApi(self.stack.base_url, timeout=60)
            try:
                body = {"name": f"Hooked {n}", "purpose": "webhook bench", "risk_tier": 3}
                _ok(api.post("/v1/models", self.developer, body))
            finally:
                api.close()

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(one, range(first, first + count)))
        return started


def _created(received: Any) -> float:
    stamp = str(received.event["created_at"]).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


def commit_to_2xx(bench: Bench, events: int = EVENTS) -> dict[str, Any]:
    with receiving() as receiver:
        hook = bench.subscribe(receiver.url())
        bench.paced(events, RATE)
        _until(lambda: len(receiver.received) >= events, "every event delivered")
        latencies = sorted((r.at - _created(r)) * 1000 for r in receiver.received)
        bench.delete(hook)
    return {
        "events": events,
        "rate_per_second": RATE,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "max_ms": round(latencies[-1], 1),
    }


def _rate(receivers: list[Receiver], before: list[int], count: int, started: float) -> float:
    """Deliveries a second to `receivers`: `count` each past `before`, from `started` to the
    last of them received."""
    _until(
        lambda: all(len(r.received) - b >= count for r, b in zip(receivers, before, strict=True)),
        "the burst delivered",
    )
    last = max(r.received[b + count - 1].at for r, b in zip(receivers, before, strict=True))
    return round(len(receivers) * count / (last - started), 1)


def slow_beside_fast(bench: Bench, burst: int = BURST) -> dict[str, Any]:
    fast_count = SUBSCRIPTIONS - SLOW
    with ExitStack() as serving:
        receivers = [serving.enter_context(receiving()) for _ in range(SUBSCRIPTIONS)]
        slow = serving.enter_context(receiving(default=Answer(200, delay=SLOW_SECONDS)))
        hooks = [bench.subscribe(r.url()) for r in receivers]
        fast = receivers[:fast_count]
        try:
            before = [len(r.received) for r in receivers]
            started = bench.register(burst)
            baseline = _rate(fast, before[:fast_count], burst, started)
            _rate(receivers, before, burst, started)  # the other three done too
            for hook in hooks[fast_count:]:
                bench.point(hook, slow.url(f"/slow/{hook['id']}"))
            # One event shows the three slow (each answers in 2 s): then they use the slow lane.
            warm = len(slow.received)
            bench.register(1)
            _until(lambda: len(slow.received) >= warm + SLOW, "the slow ones warmed")
            time.sleep(SLOW_SECONDS + 0.5)
            before = [len(r.received) for r in fast]
            slow_before = len(slow.received)
            started = bench.register(burst)
            beside = _rate(fast, before, burst, started)
            _until(lambda: len(slow.received) - slow_before >= SLOW * burst, "slow ones served")
            slow_rate = round(SLOW * burst / (slow.received[-1].at - started), 1)
        finally:
            for hook in hooks:
                bench.delete(hook)
    return {
        "subscriptions": SUBSCRIPTIONS,
        "slow": SLOW,
        "slow_seconds": SLOW_SECONDS,
        "burst": burst,
        "fast_per_second_alone": baseline,
        "fast_per_second_beside_slow": beside,
        "change_percent": round((beside - baseline) / baseline * 100, 1),
        "slow_per_second": slow_rate,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def run() -> dict[str, Any]:
    """This part of `python -m bench`: results.json's `webhooks`."""
    logging.disable(logging.INFO)
    stack = start(PLATFORM_KEY)
    try:
        bench = Bench(stack)
        result = {"commit_to_2xx": commit_to_2xx(bench)}
        result["slow_beside_fast"] = slow_beside_fast(bench)
    finally:
        stack.stop()
    return result


def report(result: dict[str, Any]) -> Report:
    out = Report()
    latency = result["commit_to_2xx"]
    out.lines.append(
        f"Webhooks on make run: commit to the receiver's 2xx over {latency['events']} events"
        f" ({latency['rate_per_second']} a second): p50 {latency['p50_ms']} ms,"
        f" p99 {latency['p99_ms']} ms (max {latency['max_ms']} ms)."
    )
    mixed = result["slow_beside_fast"]
    out.lines.append(
        f"{mixed['subscriptions']} subscriptions, bursts of {mixed['burst']} events: the "
        f"{mixed['subscriptions'] - mixed['slow']} fast ones get {mixed['fast_per_second_alone']}"
        f" deliveries/s alone and {mixed['fast_per_second_beside_slow']} with {mixed['slow']}"
        f" answering in {mixed['slow_seconds']} s ({mixed['change_percent']:+} %); the slow"
        f" ones {mixed['slow_per_second']}/s (load average {mixed['load_average']})."
    )
    return out


def main() -> int:
    found = report(run())
    print("\n".join(found.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
