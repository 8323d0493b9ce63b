"""`python -m bench` (what `make bench` runs): every part, one table, bench/results.json.

A part is a module with `run() -> dict` (its figures, stored in results.json under
its key) and, optionally, `report(result) -> bench.report.Report` (its columns of the
one table and its lines under it). Each part runs in a fresh interpreter
(bench/part.py). Adding a part is one line in `PARTS`.

Figures are printed and stored, never asserted; `--strict` exits 1 when a budget is
exceeded, for whoever wants that.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.part import run_in_child
from bench.report import Report, table

PARTS = {  # results.json key -> module; run and printed in this order
    "cold_start": "bench.cold_start",
    "aws_calls": "bench.aws_calls",
    "latency": "bench.latency",
    "list_page": "bench.list_page",
    "load": "bench.load",
    "artifacts": "bench.artifacts",
    "approvals": "bench.approvals",
    "webhooks": "bench.webhooks",
    "scan": "bench.scan",
}
RESULTS = Path(__file__).with_name("results.json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
    }


def run_parts(keys: list[str], previous: dict[str, Any]) -> dict[str, Any]:
    """Run `keys`' parts; parts not run keep their previous figures and timestamps."""
    runs: dict[str, Any] = dict(previous.get("runs", {}))
    figures = {key: previous[key] for key in PARTS if key in previous}
    for key in keys:
        print(f"bench: running {key} ...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        figures[key] = run_in_child(PARTS[key])
        runs[key] = {
            "when": _now(),
            "seconds": round(time.perf_counter() - started, 1),
            "load_average_before": round(load, 2),
        }
    return {"when": _now(), "machine": machine(), "runs": runs, **figures}


def reports(results: dict[str, Any], keys: list[str]) -> list[Report]:
    found = []
    for key in keys:
        module = importlib.import_module(PARTS[key])
        report = getattr(module, "report", None)
        found.append(report(results[key]) if report else Report(lines=[f"{key}: see results"]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks; print one table.")
    parser.add_argument("--only", action="append", choices=list(PARTS), help="repeatable")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a budget is exceeded")
    args = parser.parse_args(argv)
    keys = args.only or list(PARTS)
    previous = json.loads(args.results.read_text()) if args.only and args.results.exists() else {}
    started = time.perf_counter()
    results = run_parts(keys, previous)
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    found = reports(results, keys)
    m = results["machine"]
    print(f"Custos benchmarks, {results['when']}, {m['cpus']} x {m['cpu']}, python {m['python']}")
    print()
    print(table(found))
    print()
    for report in found:
        for line in report.lines:
            print(line)
    flagged = [line for report in found for line in report.flagged]
    print()
    print("Above budget:" if flagged else "All within budget.")
    for line in flagged:
        print(f"  {line}")
    took = ", ".join(f"{key} {results['runs'][key]['seconds']:.0f} s" for key in keys)
    print(f"\nTook {time.perf_counter() - started:.0f} s ({took}); figures in {args.results}")
    return 1 if args.strict and flagged else 0


if __name__ == "__main__":
    sys.exit(main())
