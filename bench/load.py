"""`python -m bench.load`: many clients against `make run`'s server on this machine.

Starts the local stack (`python -m infra.local` on a free 127.0.0.1 port), makes the load
tenants through the platform key, then runs `clients` threads until `seconds` have passed.
Each client has its own keep-alive connection (and a second one for concurrent duplicates),
a per-request timeout, and repeatedly:

- picks an operation from the app's declared routes (`tests.harness.exercise.operations()`,
  so a route added later is loaded too): the first picks of the run hand out every
  operation once (again, up to HANDED_AGAIN times, if its setup was refused or went
  unanswered before it was ever sent), then READ_SHARE (70%) of the picks are a read
  (uniform over the GET routes) and the rest a write (uniform over POST, PATCH and DELETE
  routes, platform routes included: tenants are created and renamed under load);
- picks one of the load tenants and prepares the request with an `Exerciser`: a write on
  fresh objects (whose setup requests are real requests, recorded as `setup`: counted in
  the request totals and status counts, left out of the latency figures), a read reused
  up to READ_REUSE times before a fresh one is prepared;
- sends it (recorded as `measured`: the latency figures), half of the Idempotency-Key
  capable writes with a key, and a fifth of those twice: at once over the second
  connection, or again after the answer (recorded as `duplicate`).

Then, with the load stopped and the stack still up, `bench.load_check` verifies every
acknowledged write and every audit chain. `run()` returns the figures as a dict;
`main()` prints them; `report()` is its part of `python -m bench`'s table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load_check import verify
from bench.load_record import (
    DUPLICATE,
    MEASURED,
    SETUP,
    WORLD,
    Call,
    NoAnswer,
    PastHardStop,
    RecordingApi,
    Routes,
)
from bench.load_report import print_report, report, summarize
from chalicelib.api.http import Operation
from tests.harness.exercise import ExerciseFailed, Exerciser, Prepared, UnsupportedOperation
from tests.harness.stack import LocalStack, start
from tests.harness.world import Tenant, make_tenant

READ_SHARE = 0.7
IDEMPOTENT_SHARE = 0.5  # of writes that accept an Idempotency-Key, sent with one
DUPLICATE_SHARE = 0.2  # of those, sent twice (half at once, half after the answer)
READ_REUSE = 10
HANDED_AGAIN = 3  # times an operation abandoned before it was ever sent is handed out again
REQUEST_TIMEOUT = 10.0


class Plan:
    """Which operation a client sends next: every one once first, then the mix.

    An operation whose setup lost a race (a 409 or 503 there, which timing decides) goes
    back to the front, a few times, so that every route is loaded however the races fall.
    """

    def __init__(self, ops: list[Operation], read_share: float) -> None:
        self.reads = [op for op in ops if op.method == "GET"]
        self.writes = [op for op in ops if op.method != "GET"]
        self.read_share = read_share
        self._first = list(ops)
        self._sent: set[str] = set()
        self._handed_again: Counter[str] = Counter()
        self._lock = threading.Lock()

    def next(self, rng: random.Random) -> Operation:
        with self._lock:
            if self._first:
                return self._first.pop(0)
        pool = self.reads if rng.random() < self.read_share else self.writes
        return rng.choice(pool)

    def first_pass_pending(self) -> bool:
        """Whether some operation is still waiting for its first turn."""
        with self._lock:
            return bool(self._first)

    def sent(self, op: Operation) -> None:
        with self._lock:
            self._sent.add(f"{op.method} {op.path}")

    def abandoned(self, op: Operation) -> None:
        """Hand `op` out again first, unless it was sent once or was handed again enough."""
        route = f"{op.method} {op.path}"
        with self._lock:
            if route not in self._sent and self._handed_again[route] < HANDED_AGAIN:
                self._handed_again[route] += 1
                self._first.append(op)


@dataclass
class LoadClient:
    """One load client: its connections, its tenants' exercisers and its loop."""

    number: int
    api: RecordingApi
    twin: RecordingApi  # a second connection, for duplicates sent at once
    tenants: list[Tenant]
    platform_key: str
    plan: Plan
    deadline: float
    rng: random.Random
    abandoned: Counter[str] = field(default_factory=Counter)
    _reads: dict[tuple[int, str], tuple[Prepared, int]] = field(default_factory=dict)

    def run(self) -> None:
        exercisers = [Exerciser(self.api, t, self.platform_key) for t in self.tenants]
        # Past the deadline only while some operation has not been handed out once yet
        # (its first pass can outlast a short run: setups that wait for a workflow take
        # seconds); the hard stop still ends everything.
        while time.monotonic() < self.deadline or self.plan.first_pass_pending():
            op = self.plan.next(self.rng)
            index = self.rng.randrange(len(exercisers))
            try:
                self.one(op, index, exercisers[index])
            except NoAnswer:
                self.abandoned[f"{op.method} {op.path}: no answer"] += 1
                self.plan.abandoned(op)
            except ExerciseFailed:
                self.abandoned[f"{op.method} {op.path}: setup refused"] += 1
                self.plan.abandoned(op)
            except UnsupportedOperation as exc:  # a route the harness cannot call yet
                self.abandoned[f"{op.method} {op.path}: unsupported: {exc}"] += 1
            except PastHardStop:
                return

    def one(self, op: Operation, index: int, exerciser: Exerciser) -> None:
        self.api.tenant = self.twin.tenant = exerciser.tenant.id
        self.api.phase = SETUP
        if op.method == "GET":
            prepared = self._read(op, index, exerciser)
        else:
            key = None
            if op.idempotent and self.rng.random() < IDEMPOTENT_SHARE:
                key = f"load-{uuid.uuid4()}"
            prepared = exerciser.prepare(op, idempotency_key=key)
        self.api.phase = MEASURED
        self.plan.sent(op)
        duplicate = "Idempotency-Key" in prepared.headers and self.rng.random() < DUPLICATE_SHARE
        if duplicate and self.rng.random() < 0.5:
            twin = threading.Thread(target=self._send_twin, args=(prepared,))
            twin.start()
            exerciser.send(prepared)
            twin.join()
        else:
            exerciser.send(prepared)
            if duplicate:
                self._send_twin(prepared)

    def _read(self, op: Operation, index: int, exerciser: Exerciser) -> Prepared:
        cached = self._reads.get((index, op.name))
        if cached is None or cached[1] >= READ_REUSE:
            cached = (exerciser.prepare(op), 0)
        self._reads[(index, op.name)] = (cached[0], cached[1] + 1)
        return cached[0]

    def _send_twin(self, prepared: Prepared) -> None:
        self.twin.phase = DUPLICATE
        # No answer is recorded (or it was never sent); the original stands on its own.
        with contextlib.suppress(NoAnswer, PastHardStop):
            self.twin.call(
                prepared.op.method, prepared.path, prepared.key, prepared.body, prepared.headers
            )


@dataclass
class Settings:
    clients: int
    seconds: float
    tenants: int
    read_share: float
    request_timeout: float
    seed: int | None

    def describe(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "seconds": self.seconds,
            "tenants": self.tenants,
            "read_share": self.read_share,
            "idempotent_share": IDEMPOTENT_SHARE,
            "duplicate_share": DUPLICATE_SHARE,
            "read_reuse": READ_REUSE,
            "request_timeout_s": self.request_timeout,
        }


@dataclass
class Outcome:
    """What the clients saw, and how the machine fared meanwhile."""

    calls: list[Call]
    elapsed: float
    stuck_clients: int
    abandoned: Counter[str]
    machine: dict[str, Any]


def run(
    clients: int = 32,
    seconds: float = 60.0,
    tenants: int = 3,
    *,
    read_share: float = READ_SHARE,
    request_timeout: float = REQUEST_TIMEOUT,
    seed: int | None = None,
) -> dict[str, Any]:
    """Load the local stack and verify it afterwards; the figures (see bench.load_report)."""
    settings = Settings(clients, seconds, tenants, read_share, request_timeout, seed)
    routes = Routes()
    platform_key = "cusp_load-" + secrets.token_urlsafe(24)
    stack = start(platform_key)
    try:
        world = RecordingApi(stack.base_url, -1, routes, request_timeout, float("inf"))
        world.phase = WORLD
        made = [make_tenant(world, f"Load Bank {n + 1}", platform_key) for n in range(tenants)]
        world.close()
        outcome = _load(stack, settings, routes, made)
        calls = world.calls + outcome.calls
        if any(c.status is None for c in calls):
            time.sleep(request_timeout)  # what the server still does for them lands first
        rss_mb = _rss_mb(stack.process.pid)
        checked = verify(stack.base_url, platform_key, made, calls, routes)
    finally:
        exit_code = stack.stop()
    return summarize(
        config=settings.describe(),
        machine=outcome.machine,
        calls=calls,
        routes=routes,
        elapsed=outcome.elapsed,
        stuck_clients=outcome.stuck_clients,
        abandoned=outcome.abandoned,
        verification=checked,
        server={**_server_log(stack, exit_code), "rss_mb_after_load": rss_mb},
    )


def _load(stack: LocalStack, settings: Settings, routes: Routes, made: list[Tenant]) -> Outcome:
    """Run the clients until the deadline; every request they sent."""
    plan = Plan(routes.ops, settings.read_share)
    rng = random.Random(settings.seed)
    load_before, cpu_before = os.getloadavg()[0], _cpu_seconds(stack.process.pid)
    started = time.monotonic()
    deadline = started + settings.seconds
    hard_stop = deadline + 3 * settings.request_timeout

    def connection(number: int) -> RecordingApi:
        return RecordingApi(stack.base_url, number, routes, settings.request_timeout, hard_stop)

    workers = [
        LoadClient(
            n,
            connection(n),
            connection(n),
            made,
            stack.platform_key,
            plan,
            deadline,
            random.Random(rng.random()),
        )
        for n in range(settings.clients)
    ]
    threads = [threading.Thread(target=w.run, name=f"load-{w.number}") for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, hard_stop - time.monotonic()) + settings.request_timeout)
    elapsed = time.monotonic() - started
    server_cpu = _cpu_seconds(stack.process.pid) - cpu_before
    for worker in workers:
        worker.api.close()
        worker.twin.close()
    return Outcome(
        calls=[c for w in workers for c in w.api.calls + w.twin.calls],
        elapsed=elapsed,
        stuck_clients=sum(1 for t in threads if t.is_alive()),
        abandoned=sum((w.abandoned for w in workers), Counter()),
        # The server, the clients and whatever else runs here share these CPUs.
        machine={
            "cpus": os.cpu_count(),
            "load_average_1m_before": round(load_before, 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
            # CPU seconds per second the server process (API, moto and dispatcher) used.
            "server_cpu_share": round(server_cpu / elapsed, 2),
        },
    )


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float | None:
    """The server process's resident memory (Linux), to spot a leak across runs."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _server_log(stack: LocalStack, exit_code: int) -> dict[str, Any]:
    """What the server logged about failures: unhandled errors (500s) and dependency trouble."""
    unhandled = [line for line in stack.output if '"unhandled error"' in line]
    unavailable = [line for line in stack.output if '"dependency unavailable"' in line]
    first = None
    if unhandled:
        try:
            first = json.loads(unhandled[0]).get("traceback")
        except ValueError:
            first = unhandled[0]
    return {
        "unhandled_errors": len(unhandled),
        "dependency_unavailable": len(unavailable),
        "first_traceback": first,
        "exit_code": exit_code,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("-c", "--clients", type=int, default=32)
    parser.add_argument("-s", "--seconds", type=float, default=60.0)
    parser.add_argument("-t", "--tenants", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = run(args.clients, args.seconds, args.tenants, seed=args.seed)
    print_report(result)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    raise SystemExit(0 if result["ok"] else 1)


__all__ = ["main", "report", "run"]


if __name__ == "__main__":
    main()
