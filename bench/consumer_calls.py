"""AWS calls per input of every entry point no HTTP request starts: per message of each
queue consumer, per stream batch of each stream consumer, per run of each schedule.

Nothing is listed here. The entry points come from the declarations (`RESOURCES`) and
their inputs from running the system: `tests/harness/scenario.py` runs the approval
workflow under moto executing Step Functions, with the local dispatcher driving every
consumer and schedule as Lambda would, and `tests/harness/consumers.py` keeps each input
a function accepted with the world it saw it in. One input is measured per kind of input
(what a message names itself, `stage.opened`; a stream consumer's largest batch), as
routes are: a fresh copy of the app (every `app` and `chalicelib` module imported anew)
takes it cold, from its world; then, the world put back and the copy's caches as a
process's that served the tenant before (its audit-chain head cached), warm. The budgets
are for requests; these figures are reported, not judged.

Part of `python -m bench.aws_calls` (results.json's `aws_calls`, rows named
`<kind> <function> (<input>)`).
"""

from __future__ import annotations

import os

# moto before anything that builds a boto3 client (as in tests/conftest.py).
from moto import mock_aws  # isort: skip

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

import boto3

from bench.counting import CallCounter, Calls
from bench.seed import PLATFORM_KEY
from tests.harness import executions
from tests.harness.clients import Api, ApiClient
from tests.harness.consumers import STREAM, Capture, Input, describe, invoke, restore

# Executions the scenario leaves waiting time out while the bench runs; moto logs each as an
# error, which is noise in the bench's output.
logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)

BUDGET = "none (figures only)"
WHY = "budgets are for requests; a consumer's calls are reported per input, not judged"


def _fresh_app() -> Any:
    """The Chalice app as a new process would have it: every app module imported anew."""
    for name in [m for m in sys.modules if m == "app" or m.split(".")[0] == "chalicelib"]:
        del sys.modules[name]
    return importlib.import_module("app").app


def row(captured: Input) -> str:
    return f"{captured.entry} ({describe(captured)})"


def measured_inputs(inputs: list[Input]) -> list[Input]:
    """One input per entry point and kind of input; a stream consumer's largest batch."""
    chosen: dict[str, Input] = {}
    for captured in inputs:
        if captured.entry.kind == STREAM:
            label = str(captured.entry)
            size = len(captured.event.get("Records", []))
            known = chosen.get(label)
            if known is None or size > len(known.event.get("Records", [])):
                chosen[label] = captured
        else:
            chosen.setdefault(row(captured), captured)
    return list(chosen.values())


def measure(
    captured: Input,
    table: str,
    counter: CallCounter,
    parts: dict[str, str],
    new_app: Callable[[], Any] = _fresh_app,
) -> dict[str, Any]:
    """The cold and the warm run of one input in a fresh copy of the app."""
    entry: dict[str, Any] = {
        "route": str(captured.entry),
        "input": describe(captured),
        "per": captured.entry.unit,
        "budget": BUDGET,
        "why": WHY,
        "within": None,
        "warm_cached": None,
        "problems": [],
    }
    app = new_app()
    for warmth in ("cold", "warm"):
        restore(captured, table, warmth)
        with counter.record() as calls:
            reported = invoke(app, captured.entry, captured.event)
        entry[warmth] = _run_entry(reported.detail, calls, parts)
        if reported.failed:
            entry["problems"].append(f"{warmth}: {reported.detail}")
    return entry


def _run_entry(detail: str, calls: Calls, parts: dict[str, str]) -> dict[str, Any]:
    return {
        "status": detail,
        **{name: dict(sorted(calls.by_part[part].items())) for part, name in parts.items()},
    }


def measure_all(counter: CallCounter, parts: dict[str, str]) -> dict[str, Any]:
    """Run the system once under executing moto, then measure what it handed over."""
    from infra.provision import provision

    with mock_aws(config=executions.EXECUTING):
        env = provision(boto3.session.Session(), "bench-consumers", PLATFORM_KEY)
        os.environ.update(env)
        setup = _fresh_app()
        capture = Capture(setup, env["CUSTOS_TABLE"])
        api: ApiClient = _api(setup)
        from tests.harness.scenario import Scenario

        with capture.installed():
            Scenario(api, PLATFORM_KEY, env).run()
        try:
            return {
                row(captured): measure(captured, env["CUSTOS_TABLE"], counter, parts)
                for captured in measured_inputs(capture.inputs)
            }
        finally:
            executions.stop_all()


def _api(app: Any) -> Api:
    from chalice.test import Client

    return Api(Client(app))
