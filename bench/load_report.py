"""The load run's figures: throughput, latency per route, statuses, and the verification.

Latency figures cover `measured` requests (the operation itself); setup requests made by
`Exerciser.prepare` and duplicates count in the request totals, statuses and errors.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bench.load_record import DUPLICATE, MEASURED, SETUP, Call, Routes, percentile
from bench.report import Report

# Answers that mean "lost a race or the store was busy; nothing changed, retry is safe".
# How many there are depends on timing: they are figures, never judged. A 503 counts only
# with its Retry-After; without one it is an error (5xx).
CONTENTION = {
    409: "conflict: an optimistic write lost to a concurrent change of the same object",
    412: "If-Match named an ETag a concurrent update had already moved",
    429: "the data store throttled the request",
    503: "the tenant's audit chain stayed contended through the writer's retries, or a "
    "dependency failed after the SDK's retries (with Retry-After)",
}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def latency(calls: list[Call]) -> dict[str, Any]:
    times = sorted(c.seconds for c in calls if c.status is not None)
    return {
        "count": len(times),
        "p50_ms": _ms(percentile(times, 0.50)),
        "p99_ms": _ms(percentile(times, 0.99)),
        "max_ms": _ms(times[-1] if times else None),
    }


def _status_key(call: Call) -> str:
    return str(call.status) if call.status is not None else (call.error or "no answer")


def classify(calls: list[Call]) -> dict[str, Any]:
    """Errors (a 5xx but a 503 with Retry-After, no answer, an unexpected 4xx) apart from
    contention."""
    errors: Counter[str] = Counter()
    examples: list[str] = []
    contention: Counter[int] = Counter()
    for call in calls:
        kind = None
        if call.status is None:
            kind = "timeout" if call.error == "timeout" else "connection"
        elif call.status in CONTENTION and (call.status != 503 or call.retryable):
            contention[call.status] += 1
        elif call.status >= 500:
            kind = "5xx"
        elif call.status >= 400:
            kind = "unexpected_4xx"
        if kind:
            errors[kind] += 1
            if len(examples) < 10:
                unasked = " without Retry-After" if call.status == 503 else ""
                examples.append(
                    f"{call.phase} {call.method} {call.path}: {_status_key(call)}{unasked}"
                )
    return {
        "errors": {k: errors[k] for k in ("5xx", "connection", "timeout", "unexpected_4xx")}
        | {"total": sum(errors.values()), "examples": examples},
        "contention": {
            str(code): {"count": contention[code], "meaning": meaning}
            for code, meaning in CONTENTION.items()
        },
    }


def summarize(
    *,
    config: dict[str, Any],
    machine: dict[str, Any],
    calls: list[Call],
    routes: Routes,
    elapsed: float,
    stuck_clients: int,
    abandoned: Counter[str],
    verification: dict[str, Any],
    server: dict[str, Any],
) -> dict[str, Any]:
    """The figures `run()` returns (and bench/results.json keeps under "load")."""
    load = [c for c in calls if c.phase in (SETUP, MEASURED, DUPLICATE)]
    measured = [c for c in load if c.phase == MEASURED]
    by_route: dict[str, list[Call]] = defaultdict(list)
    for call in measured:
        by_route[call.route].append(call)
    per_route = {
        route: {
            **latency(by_route[route]),
            "statuses": dict(sorted(Counter(_status_key(c) for c in by_route[route]).items())),
        }
        for route in sorted(by_route, key=lambda r: (r.split()[1], r))
    }
    declared = {f"{op.method} {op.path}" for op in routes.ops}
    writes = [c for c in measured if c.is_write]
    classified = classify(load)
    result = {
        "config": config,
        "machine": machine,
        "elapsed_s": round(elapsed, 2),
        "requests": {
            "total": len(load),
            "measured": len(measured),
            "measured_reads": len(measured) - len(writes),
            "measured_writes": len(writes),
            "setup": sum(1 for c in load if c.phase == SETUP),
            "duplicate": sum(1 for c in load if c.phase == DUPLICATE),
        },
        "throughput_rps": {
            "operations": round(len(measured) / elapsed, 1),
            "http_requests": round(len(load) / elapsed, 1),
        },
        "latency": latency(measured),
        "setup_latency": latency([c for c in load if c.phase == SETUP]),
        "statuses": dict(sorted(Counter(_status_key(c) for c in load).items())),
        **classified,
        "routes": per_route,
        "routes_not_loaded": sorted(declared - set(by_route)),
        "operations_abandoned": dict(abandoned.most_common()),
        "stuck_clients": stuck_clients,
        "server": server,
        "verification": verification,
    }
    result["ok"] = bool(
        verification["ok"]
        and classified["errors"]["total"] == 0
        and not result["routes_not_loaded"]
        and stuck_clients == 0
        and server["unhandled_errors"] == 0
    )
    return result


def print_report(result: dict[str, Any]) -> None:
    """The figures as a table."""
    cfg, req, lat = result["config"], result["requests"], result["latency"]
    print(
        f"\nLoad: {cfg['clients']} clients, {cfg['seconds']:g} s, {cfg['tenants']} tenants, "
        f"{cfg['read_share']:.0%} reads; ran {result['elapsed_s']} s"
    )
    machine = result["machine"]
    print(
        f"machine: {machine['cpus']} CPUs, 1-min load average {machine['load_average_1m_before']}"
        f" before, {machine['load_average_1m_after']} after; the server used"
        f" {machine['server_cpu_share']} CPU"
    )
    print(
        f"requests {req['total']} (measured {req['measured']}: {req['measured_reads']} reads,"
        f" {req['measured_writes']} writes; setup {req['setup']}; duplicates {req['duplicate']})"
    )
    rps = result["throughput_rps"]
    print(f"throughput {rps['operations']} operations/s, {rps['http_requests']} HTTP requests/s")
    print(f"latency p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms")
    setup = result["setup_latency"]
    print(f"setup latency p50 {setup['p50_ms']} ms, p99 {setup['p99_ms']} ms")
    print(f"\n{'route':<48} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for route, row in result["routes"].items():
        statuses = " ".join(f"{k}:{v}" for k, v in row["statuses"].items())
        p50, p99 = row["p50_ms"], row["p99_ms"]
        print(f"{route:<48} {row['count']:>6} {p50!s:>8} {p99!s:>8}  {statuses}")
    print(f"\nstatuses (all load requests): {result['statuses']}")
    errors = result["errors"]
    print(
        f"errors {errors['total']}: 5xx {errors['5xx']}, connection {errors['connection']}, "
        f"timeout {errors['timeout']}, unexpected 4xx {errors['unexpected_4xx']}"
    )
    for example in errors["examples"]:
        print(f"  {example}")
    for code, row in result["contention"].items():
        print(f"contention {code}: {row['count']:>5}  ({row['meaning']})")
    if result["routes_not_loaded"]:
        print(f"routes never loaded: {result['routes_not_loaded']}")
    if result["operations_abandoned"]:
        print(f"operations abandoned in setup: {result['operations_abandoned']}")
    server = result["server"]
    print(
        f"server: {server['unhandled_errors']} unhandled errors, "
        f"{server['dependency_unavailable']} dependency-unavailable, exit {server['exit_code']}, "
        f"{server['rss_mb_after_load']} MB resident after the load"
    )
    if server["first_traceback"]:
        print(server["first_traceback"])
    print("\nverification:")
    for name, value in result["verification"].items():
        if name != "failures":
            print(f"  {name}: {value}")
    for kind, texts in result["verification"]["failures"].items():
        print(f"  FAILED {kind}:")
        for text in texts:
            print(f"    {text}")
    print(f"\n{'OK' if result['ok'] else 'NOT OK'}")


def report(result: dict[str, Any]) -> Report:
    """The run as a part of `python -m bench`: p50/p99 under load per route, and a summary."""
    out = Report()
    for route, row in result["routes"].items():
        out.cells[route] = {"load p50 ms": str(row["p50_ms"]), "load p99 ms": str(row["p99_ms"])}
    cfg, rps, lat = result["config"], result["throughput_rps"], result["latency"]
    checked, errors = result["verification"], result["errors"]
    contention = {code: row["count"] for code, row in result["contention"].items() if row["count"]}
    out.lines += [
        f"Load: {cfg['clients']} clients for {cfg['seconds']:g} s on {cfg['tenants']} tenants, "
        f"{rps['operations']} operations/s ({rps['http_requests']} HTTP requests/s with setup), "
        f"p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms; errors {errors['total']}, "
        f"contention answers {contention or 0}",
        f"Load verification: {checked['acknowledged_exactly_once']} of "
        f"{checked['acknowledged_writes']} acknowledged writes recorded exactly once, "
        f"{checked['chains_valid']} of {checked['tenants_checked']} audit chains valid",
    ]
    if not result["ok"]:
        out.flagged.append(
            f"load: errors {errors['total']}, failures {sorted(checked['failures'])}, "
            f"routes not loaded {result['routes_not_loaded']}"
        )
    return out
