"""AWS calls per request of every route, against its budget (docs/architecture.md, section 9).

Everything runs in this process under moto's `mock_aws()`, with the resources of
infra/provision.py and a tenant made through the API. Routes come from the app
(bench/routes.py) and their budgets from their declarations (bench/budgets.py).

For each route, and for variants of it (a creating POST with a new Idempotency-Key,
the same POST replayed, a list's second page from a cursor), the harness first
prepares two accepted requests on objects of their own (tests/harness/exercise.py;
those setup calls go through a separate copy of the app and are not counted). Then a
fresh copy of the app (every `app` and `chalicelib` module imported anew, so no
client, setting or cache survives, as in a new Lambda process) serves the first
("cold") and then the second ("warm"). Calls are split into the API-key lookup
(made from chalicelib/auth.py), Secrets Manager reads, and the request path, which
is what the budget limits; a warm request must make no key-lookup or secrets call.

Then the entry points no HTTP request starts, per message, stream batch or scheduled
run, measured the same way from inputs the running system handed them
(bench/consumer_calls.py).

`python -m bench.aws_calls` prints this part alone; `python -m bench` runs every part.
"""

from __future__ import annotations

import os

# moto before anything that builds a boto3 client (as in tests/conftest.py).
from moto import mock_aws  # isort: skip

import argparse
import importlib
import logging
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import boto3
from chalice.test import Client

from bench.budgets import EXPLICIT, REPLAY, Budget, budget_for, stale_explicit
from bench.counting import KEY_LOOKUP, REQUEST, SECRETS, CallCounter, Calls
from bench.report import Report, calls_text
from bench.routes import label, routes
from bench.seed import FAKE_CREDENTIALS, PLATFORM_KEY
from chalicelib.api.http import Operation
from tests.harness.clients import Answer, Api, ApiClient
from tests.harness.exercise import (
    ExerciseFailed,
    Exerciser,
    Prepared,
    UnsupportedOperation,
    operations,
)
from tests.harness.fake_workflow import play_workflow
from tests.harness.world import make_tenant

COUNTER = CallCounter()
PARTS = {KEY_LOOKUP: "key_lookup", SECRETS: "secrets", REQUEST: "request"}


class NotMeasurable(Exception):
    """This variant does not apply to the route as the app stands (e.g. one page only)."""


@dataclass(frozen=True)
class Case:
    """One kind of request: `requests()` prepares the cold and the warm one."""

    label: str
    op: Operation
    budget: Budget
    requests: Callable[[], tuple[Prepared, Prepared]]


def send(api: ApiClient, prepared: Prepared) -> Answer:
    return api.call(
        prepared.op.method, prepared.path, prepared.key, prepared.body, prepared.headers
    )


def fresh_app() -> Api:
    """The app as a new process would have it: every app module imported anew."""
    for name in [m for m in sys.modules if m == "app" or m.split(".")[0] == "chalicelib"]:
        del sys.modules[name]
    return Api(Client(importlib.import_module("app").app))


def _new_key() -> str:
    return f"bench-{uuid.uuid4()}"


def _sent(api: ApiClient, prepared: Prepared) -> Answer:
    answer = send(api, prepared)
    if answer.status != prepared.op.status:
        raise ExerciseFailed(f"setup {prepared.label}: {answer.status} {answer.json}")
    return answer


def _replayed(ex: Exerciser, op: Operation) -> tuple[Prepared, Prepared]:
    """A POST already answered once under its Idempotency-Key; both runs replay it."""
    prepared = ex.prepare(op, idempotency_key=_new_key())
    _sent(ex.api, prepared)
    return prepared, prepared


def _second_page(ex: Exerciser, op: Operation) -> tuple[Prepared, Prepared]:
    """A list's second page (limit=1) from the cursor of its first. When a POST creates
    into the same collection, two objects are made there first so there is a second page
    (the second from the request model's second example when it has one: one deployment
    of a version per target is open at a time)."""
    listing = ex.prepare(op)
    creator = next((o for o in operations() if o.method == "POST" and o.path == op.path), None)
    if creator is not None:
        made = ex.prepare(creator)
        examples = (
            creator.request.model_json_schema().get("examples", []) if creator.request else []
        )
        second = replace(made, body=ex.fill_ids(examples[1])) if len(examples) > 1 else made
        for prepared in (made, second):
            _sent(ex.api, prepared)
        listing = replace(listing, path=made.path)
    first = _sent(ex.api, replace(listing, path=f"{listing.path}?limit=1"))
    cursor = (first.json or {}).get("next_cursor")
    if not cursor:
        raise NotMeasurable("the collection has one page only")
    page = replace(listing, path=f"{listing.path}?limit=1&cursor={quote(cursor, safe='')}")
    return page, page


def cases(op: Operation, ex: Exerciser) -> list[Case]:
    """The route itself, then the variants its declaration admits."""
    budget = budget_for(op)
    found = [Case(label(op), op, budget, lambda: (ex.prepare(op), ex.prepare(op)))]
    if op.idempotent:
        found += [
            Case(
                f"{label(op)} +Idempotency-Key",
                op,
                budget,
                lambda: (
                    ex.prepare(op, idempotency_key=_new_key()),
                    ex.prepare(op, idempotency_key=_new_key()),
                ),
            ),
            Case(f"{label(op)} replayed", op, REPLAY, lambda: _replayed(ex, op)),
        ]
    if any(q.name == "cursor" for q in op.query):
        found.append(Case(f"{label(op)} page 2", op, budget, lambda: _second_page(ex, op)))
    return found


def _run_entry(answer: Answer, calls: Calls) -> dict[str, Any]:
    return {
        "status": answer.status,
        **{PARTS[part]: dict(sorted(calls.by_part[part].items())) for part in PARTS},
    }


def measure(case: Case, new_app: Callable[[], ApiClient] = fresh_app) -> dict[str, Any]:
    """Prepare, then count the cold and the warm request in a fresh copy of the app."""
    entry: dict[str, Any] = {
        "route": label(case.op),
        "budget": case.budget.text,
        "why": case.budget.why,
        "within": None,
        "warm_cached": None,
        "problems": [],
    }
    try:
        cold_request, warm_request = case.requests()
    except (UnsupportedOperation, ExerciseFailed, NotMeasurable) as exc:
        entry["skipped"] = f"{type(exc).__name__}: {exc}"
        return entry
    api = new_app()
    above = []
    for name, request in (("cold", cold_request), ("warm", warm_request)):
        with COUNTER.record() as calls:
            answer = send(api, request)
        entry[name] = _run_entry(answer, calls)
        if answer.status != case.op.status:
            entry["problems"].append(f"{name}: answered {answer.status}, not {case.op.status}")
        excess = case.budget.excess(calls.by_part[REQUEST], answer.json)
        if excess:
            above.append(name)
            over = ", ".join(f"{op} {made} > {allowed}" for op, (made, allowed) in excess.items())
            entry["problems"].append(f"{name}: above budget ({over})")
        if name == "warm":
            entry["allowed"] = case.budget.allowed(answer.json)
            entry["warm_cached"] = not (calls.total(KEY_LOOKUP) or calls.total(SECRETS))
    entry["within"] = not above
    entry["above"] = above
    if entry["warm_cached"] is False:
        entry["problems"].append("warm: the key lookup or a secret was read again")
    return entry


def measure_all(
    ops: list[Operation], ex: Exerciser, new_app: Callable[[], ApiClient] = fresh_app
) -> dict[str, Any]:
    """Every case of every route in `ops`, in order, prepared by `ex` and measured in
    `new_app()`; `_stale` (when any) lists explicit budgets of routes the app no longer has."""
    found: dict[str, Any] = {
        case.label: measure(case, new_app) for op in ops for case in cases(op, ex)
    }
    if stale := stale_explicit(ops):
        found["_stale"] = stale
    return found


def run() -> dict[str, Any]:
    """This part of `python -m bench`: results.json's `aws_calls`."""
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    logging.disable(logging.INFO)  # the app's request log lines would bury the output
    COUNTER.install()  # before the first botocore session exists
    from infra.provision import provision

    # Before any fresh copy: the harness reads the declarations of this first import.
    ops = routes()
    with mock_aws():
        os.environ.update(provision(boto3.session.Session(), "bench", PLATFORM_KEY))
        setup = fresh_app()  # a copy of its own: setup calls never warm the measured copy
        tenant = make_tenant(setup, "Bench", PLATFORM_KEY)
        found = measure_all(ops, Exerciser(setup, tenant, PLATFORM_KEY, play_workflow))
    from bench import consumer_calls

    found.update(consumer_calls.measure_all(COUNTER, PARTS))
    return found


def _verdict(entry: dict[str, Any]) -> str:
    if entry.get("skipped"):
        return "n/a"
    if "per" in entry:  # an entry point no request starts: no budget, figures only
        return "check" if entry["problems"] else "-"
    if entry["within"] is False:
        return "ABOVE" if "warm" in entry["above"] else "ABOVE cold"
    if entry["problems"]:
        return "check"
    return "yes"


def report(result: dict[str, Any]) -> Report:
    """Budget, cold and warm request-path calls and the verdict of each row."""
    out = Report()
    for row, entry in result.items():
        if row.startswith("_"):
            continue
        out.cells[row] = {
            "budget (request path)": entry["budget"],
            "cold calls": calls_text(entry.get("cold", {}).get("request", {})),
            "warm calls": calls_text(entry.get("warm", {}).get("request", {})),
            "within": _verdict(entry),
        }
        for problem in entry["problems"]:
            line = f"{row}: {problem}"
            (out.flagged if "above budget" in problem else out.lines).append(line)
        if entry.get("skipped"):
            out.lines.append(f"{row}: not measured ({entry['skipped']})")
    for row, entry in result.items():
        if not row.startswith("_") and entry["route"] in EXPLICIT and row == entry["route"]:
            out.lines.append(f"{row}: budget {entry['budget']}: {entry['why']}")
    for stale in result.get("_stale", []):
        out.lines.append(f"bench/budgets.py gives a budget to {stale}, which the app no longer has")
    out.lines.insert(
        0,
        "AWS calls: request path only (key lookup and secrets apart, cached when warm); "
        "cold = first request of a fresh process, warm = the next one; moto in-process. "
        "Queue, stream and schedule rows: per message, stream batch or run, the input "
        "captured from the running system; warm = a process that served its tenant before.",
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a budget is exceeded")
    args = parser.parse_args(argv)
    from bench.report import table

    found = report(run())
    print(table([found]))
    print()
    print("\n".join(found.lines + found.flagged) or "All within budget.")
    return 1 if args.strict and found.flagged else 0


if __name__ == "__main__":
    sys.exit(main())
