"""A list page next to a single read, in a tenant holding many models, through `make run`'s stack.

Starts `python -m infra.local` on a free port, makes a tenant through the API and
registers `--models` models in it (1,000), through the API from a few clients at once
(seeding is not timed). Then, one request at a time over one keep-alive connection,
after one untimed call each, it times `--calls` requests of

- `GET /v1/models/{model_id}`: one model;
- `GET /v1/models?limit=100`: the first page of 100;
- `POST /v1/models`: registering one more (last, so the reads see `--models` models).

`ratio` is the list page's median over the single GET's. Only the API is used, so the
figure holds whatever the store's key layout. Figures are client-side wall times, in
milliseconds, and the stack process's CPU time per request (`server_cpu_ms`, from
/proc, its dispatcher's polling included), which moves less than wall time when other
work shares the machine.

`python -m bench.list_page` prints this part alone; `python -m bench` runs every part.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.report import Report
from bench.seed import PLATFORM_KEY
from tests.harness.clients import Answer, HttpApi
from tests.harness.stack import start
from tests.harness.world import make_tenant

MODELS = 1000
CALLS = 50
PAGE = 100
SEEDERS = 4  # clients registering models at once: enough to keep the server busy
TARGET_RATIO = 4.0


def model_body(n: int) -> dict[str, Any]:
    return {"name": f"Model {n:05d}", "purpose": "Benchmark inventory", "risk_tier": 1 + n % 3}


def seed_models(base_url: str, key: str, count: int) -> list[str]:
    """`count` models registered through the API by SEEDERS clients; their ids."""

    def register(numbers: range) -> list[str]:
        api = HttpApi(base_url)
        try:
            ids = []
            for n in numbers:
                answer = api.post("/v1/models", key, model_body(n))
                assert answer.status == 201, (answer.status, answer.json)
                ids.append(answer.json["id"])
            return ids
        finally:
            api.close()

    shares = [range(i, count, SEEDERS) for i in range(SEEDERS)]
    with ThreadPoolExecutor(SEEDERS) as pool:
        return [model_id for ids in pool.map(register, shares) for model_id in ids]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process `pid` so far; None where /proc is not there."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def timed(
    send: Callable[[], Answer], calls: int, check: Callable[[Answer], bool], server: int
) -> dict[str, Any]:
    """`calls` timed requests (plus one untimed first); ms figures and odd answers.
    `server` is the stack's process id, whose CPU time is read around the timed calls."""
    samples: list[float] = []
    odd = 0
    cpu_before: float | None = None
    for n in range(calls + 1):
        if n == 1:
            cpu_before = cpu_seconds(server)
        started = time.perf_counter()
        answer = send()
        elapsed = (time.perf_counter() - started) * 1000
        if n:
            samples.append(elapsed)
            odd += not check(answer)
    cpu_after = cpu_seconds(server)
    cpu = None
    if cpu_before is not None and cpu_after is not None:
        cpu = round((cpu_after - cpu_before) * 1000 / calls, 2)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(statistics.quantiles(samples, n=20, method="inclusive")[18], 2),
        "server_cpu_ms": cpu,
        "n": len(samples),
        "unexpected": odd,
    }


def run(models: int = MODELS, calls: int = CALLS) -> dict[str, Any]:
    """This part of `python -m bench`: results.json's `list_page`."""
    stack = start(PLATFORM_KEY)
    api = HttpApi(stack.base_url)
    try:
        tenant = make_tenant(api, "Bench", PLATFORM_KEY, {"developer": ["developer"]})
        key = tenant.keys["developer"]
        started = time.perf_counter()
        ids = seed_models(stack.base_url, key, models)
        seeding = time.perf_counter() - started
        one, pid = ids[len(ids) // 2], stack.process.pid
        single = timed(
            lambda: api.get(f"/v1/models/{one}", key), calls, lambda a: a.status == 200, pid
        )
        page = timed(
            lambda: api.get(f"/v1/models?limit={PAGE}", key),
            calls,
            lambda a: a.status == 200 and len(a.json["items"]) == PAGE,
            pid,
        )
        numbers = iter(range(models, models + calls + 1))
        write = timed(
            lambda: api.post("/v1/models", key, model_body(next(numbers))),
            calls,
            lambda a: a.status == 201,
            pid,
        )
    finally:
        api.close()
        stack.stop()
    return {
        "models": models,
        "page": PAGE,
        "seeding_seconds": round(seeding, 1),
        "single_get": single,
        "list_page": page,
        "write": write,
        "ratio": round(page["median_ms"] / single["median_ms"], 1),
        "target_ratio": TARGET_RATIO,
    }


def report(result: dict[str, Any]) -> Report:
    """Three rows (single GET, list page, POST) and the ratio, flagged above its target."""
    out = Report()
    rows = {
        f"GET /v1/models/{{model_id}} of {result['models']}": result["single_get"],
        f"GET /v1/models?limit={result['page']} of {result['models']}": result["list_page"],
        f"POST /v1/models, {result['models']} held": result["write"],
    }
    for row, entry in rows.items():
        cpu = entry.get("server_cpu_ms")
        out.cells[row] = {
            "median ms": f"{entry['median_ms']:.1f}",
            "p95 ms": f"{entry['p95_ms']:.1f}",
            "server CPU ms": "-" if cpu is None else f"{cpu:.1f}",
        }
        if entry["unexpected"]:
            out.lines.append(f"{row}: {entry['unexpected']} unexpected answers during timing")
    ratio = f"{result['ratio']:.1f}x"
    out.lines.append(
        f"List page: a page of {result['page']} among {result['models']} models takes {ratio} a "
        f"single GET (target <= {result['target_ratio']:.0f}x); make run's stack over HTTP, "
        f"{result['single_get']['n']} calls each, seeding ({result['seeding_seconds']:.0f} s) "
        "not timed."
    )
    if result["ratio"] > result["target_ratio"]:
        out.flagged.append(f"list page {ratio} a single GET > {result['target_ratio']:.0f}x")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-m", "--models", type=int, default=MODELS, help=f"({MODELS})")
    parser.add_argument("-n", "--calls", type=int, default=CALLS, help=f"per request ({CALLS})")
    args = parser.parse_args(argv)
    from bench.report import table

    started = time.perf_counter()
    found = report(run(args.models, args.calls))
    print(table([found], first_column="request"))
    print()
    print("\n".join(found.lines + found.flagged))
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
