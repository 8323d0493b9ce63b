"""Latency of every route through `make run`'s stack, over HTTP.

Starts `python -m infra.local` (what `make run` runs: the API on a local HTTP server,
moto as AWS, the event dispatcher) on a free port, makes a tenant through the API,
then for each route (bench/routes.py) sends `--calls` requests one at a time over
one keep-alive connection. Requests are prepared by tests/harness/exercise.py
outside the timed section: once for a route whose request can be sent again (reads,
creating POSTs), anew for each call where the request consumes its target (DELETE,
PATCH with If-Match). One untimed call per route first, so a lazily imported module
is not timed. Figures are client-side wall times, in milliseconds.

`python -m bench.latency` prints this part alone; `python -m bench` runs every part.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from bench.report import Report
from bench.routes import label, routes
from bench.seed import PLATFORM_KEY
from chalicelib.api.http import Operation
from tests.harness.clients import HttpApi
from tests.harness.exercise import ExerciseFailed, Exerciser, Prepared, UnsupportedOperation
from tests.harness.stack import start
from tests.harness.world import make_tenant

CALLS = 200


def consumes_target(op: Operation) -> bool:
    """A request that cannot be sent twice as it is: it deletes or is bound to an ETag."""
    return op.method == "DELETE" or op.if_match


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


def time_route(ex: Exerciser, op: Operation, calls: int) -> dict[str, Any]:
    """`calls` timed requests of `op` (plus one untimed first); ms figures."""
    fresh = consumes_target(op)
    prepared: Prepared | None = None
    samples: list[float] = []
    statuses: dict[int, int] = {}
    for n in range(calls + 1):
        if prepared is None or fresh:
            prepared = ex.prepare(op)
        started = time.perf_counter()
        answer = ex.send(prepared)
        elapsed = (time.perf_counter() - started) * 1000
        if n == 0:
            continue
        samples.append(elapsed)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(p95(samples), 2),
        "n": len(samples),
        "prepared": "per call" if fresh else "once",
        "unexpected": {str(s): c for s, c in statuses.items() if s != op.status},
    }


def stack_groups(ops: list[Operation]) -> list[list[Operation]]:
    """Reads share one stack; each writing route gets a fresh one.

    moto's TransactWriteItems copies the whole table once per item it writes, so a
    write's latency on the local stack grows with what earlier routes left in the
    table; a fresh stack per writing route keeps each figure independent of order.
    """
    reads = [op for op in ops if op.method == "GET"]
    return [reads] + [[op] for op in ops if op.method != "GET"]


def time_on_fresh_stack(ops: list[Operation], calls: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    stack = start(PLATFORM_KEY)
    api = HttpApi(stack.base_url)
    try:
        ex = Exerciser(api, make_tenant(api, "Bench", PLATFORM_KEY), PLATFORM_KEY)
        for op in ops:
            started = time.perf_counter()
            try:
                found[label(op)] = time_route(ex, op, calls)
            except (UnsupportedOperation, ExerciseFailed) as exc:
                found[label(op)] = {"skipped": f"{type(exc).__name__}: {exc}"}
            found[label(op)]["seconds"] = round(time.perf_counter() - started, 1)
    finally:
        api.close()
        stack.stop()
    return found


def run(calls: int = CALLS) -> dict[str, Any]:
    """This part of `python -m bench`: results.json's `latency`, route -> figures."""
    ops = routes()
    found: dict[str, Any] = {}
    for group in stack_groups(ops):
        found.update(time_on_fresh_stack(group, calls))
    return {label(op): found[label(op)] for op in ops}


def report(result: dict[str, Any]) -> Report:
    """Median and p95 per route; a line for each route not measured or answered oddly."""
    out = Report()
    ns = {entry["n"] for entry in result.values() if "n" in entry}
    out.lines.append(
        f"Latency: make run's stack over HTTP, {'/'.join(map(str, sorted(ns)))} calls per route, "
        "one at a time on one keep-alive connection; setup not timed."
    )
    for route, entry in result.items():
        if "skipped" in entry:
            out.lines.append(f"{route}: latency not measured ({entry['skipped']})")
            continue
        out.cells[route] = {
            "median ms": f"{entry['median_ms']:.1f}",
            "p95 ms": f"{entry['p95_ms']:.1f}",
        }
        if entry["unexpected"]:
            out.lines.append(f"{route}: unexpected answers {entry['unexpected']} during timing")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--calls", type=int, default=CALLS, help=f"per route ({CALLS})")
    args = parser.parse_args(argv)
    from bench.report import table

    started = time.perf_counter()
    found = report(run(args.calls))
    print(table([found]))
    print()
    print("\n".join(found.lines))
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
