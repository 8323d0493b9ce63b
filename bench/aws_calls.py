"""`python -m bench.aws_calls`: AWS calls per request against DESIGN.md section 10.

Everything runs in this process under moto's `mock_aws()`, with the resources of
infra/provision.py and data made through the API. For each request kind, a fresh
copy of the app (every `app` and `chalicelib` module re-imported, so no client,
setting or cache survives, as in a new Lambda process) serves the first request
("cold") and then a second one ("warm"). Calls are split into the API-key
lookup (made from chalicelib/auth.py), Secrets Manager reads, and the rest: the
request path, which the budget is about.

Prints figures; `--strict` also exits 1 when a budget is exceeded.
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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
from chalice.test import Client

from bench.counting import KEY_LOOKUP, REQUEST, SECRETS, CallCounter, Calls, describe
from bench.seed import FAKE_CREDENTIALS, PLATFORM_KEY, Answer, Http, Seeded, model_body, seed

COUNTER = CallCounter()
LIST_LIMIT = 2
SEEDED_MODELS = 5  # more than two list pages of LIST_LIMIT, so the first page has a cursor


@dataclass(frozen=True)
class Budget:
    """What DESIGN.md allows on the request path (key lookup and secrets aside)."""

    text: str
    allows: Callable[[Counter[str]], bool]


def _only(counts: Counter[str], limits: dict[str, tuple[int, int]]) -> bool:
    """Every operation within (min, max) of `limits`, and no other operation."""
    if set(counts) - set(limits):
        return False
    return all(low <= counts[op] <= high for op, (low, high) in limits.items())


READ = Budget("1 GetItem", lambda c: _only(c, {"DynamoDB.GetItem": (1, 1)}))
LIST = Budget("1 Query", lambda c: _only(c, {"DynamoDB.Query": (1, 1)}))
WRITE = Budget(
    "1 TransactWriteItems + <=2 GetItem",
    lambda c: _only(c, {"DynamoDB.TransactWriteItems": (1, 1), "DynamoDB.GetItem": (0, 2)}),
)
REPLAY = Budget(
    "<=1 TransactWriteItems + <=2 GetItem",
    lambda c: _only(c, {"DynamoDB.TransactWriteItems": (0, 1), "DynamoDB.GetItem": (0, 2)}),
)


@dataclass
class Scenario:
    """One kind of request, sent repeatedly by `send` (which may keep state)."""

    label: str
    budget: Budget
    status: int
    send: Callable[[Http], Answer]


@dataclass
class Run:
    name: str
    status: int
    calls: Calls
    problems: list[str] = field(default_factory=list)


def fresh_app() -> Http:
    """The app as a new process would have it: every app module imported anew."""
    for name in [m for m in sys.modules if m == "app" or m.split(".")[0] == "chalicelib"]:
        del sys.modules[name]
    return Http(Client(importlib.import_module("app").app))


def measure(scenario: Scenario) -> list[Run]:
    """The cold (first) and warm (second) request of `scenario` in a fresh app."""
    http = fresh_app()
    runs = []
    for name in ("cold", "warm"):
        with COUNTER.record() as calls:
            answer = scenario.send(http)
        run = Run(name, answer.status, calls)
        if answer.status != scenario.status:
            run.problems.append(f"{name}: answered {answer.status}, expected {scenario.status}")
        if not scenario.budget.allows(calls.by_part[REQUEST]):
            run.problems.append(
                f"{name}: request path {describe(calls.by_part[REQUEST])} "
                f"exceeds {scenario.budget.text}"
            )
        if name == "warm":
            for part in (KEY_LOOKUP, SECRETS):
                if calls.total(part):
                    run.problems.append(
                        f"warm: {part} not cached ({describe(calls.by_part[part])})"
                    )
        runs.append(run)
    return runs


class PatchModel:
    """PATCHes one model's purpose, following its ETag from answer to answer."""

    def __init__(self, model_id: str, key: str) -> None:
        self.model_id, self.key = model_id, key
        self.etag = '"1"'
        self.sent = 0

    def __call__(self, http: Http) -> Answer:
        self.sent += 1
        answer = http.call(
            "PATCH",
            f"/v1/models/{self.model_id}",
            self.key,
            {"purpose": f"Probability of default, revision {self.sent}"},
            headers={"If-Match": self.etag},
        )
        self.etag = answer.headers.get("etag", self.etag)
        return answer


def scenarios(http: Http, seeded: Seeded) -> list[Scenario]:
    """The request kinds DESIGN's budget names; setup requests are sent through `http`."""
    key, model_id = seeded.developer_key, seeded.model_ids[0]
    first_page = http.call("GET", f"/v1/models?limit={LIST_LIMIT}", key)
    cursor = first_page.json["next_cursor"]
    replayed = model_body("Replayed")
    http.call("POST", "/v1/models", key, replayed, headers={"Idempotency-Key": "bench-replay"})

    def new_key() -> dict[str, str]:
        return {"Idempotency-Key": f"bench-{uuid.uuid4()}"}

    return [
        Scenario(
            "GET /v1/models/{id}", READ, 200, lambda h: h.call("GET", f"/v1/models/{model_id}", key)
        ),
        Scenario(
            f"GET /v1/models?limit={LIST_LIMIT}",
            LIST,
            200,
            lambda h: h.call("GET", f"/v1/models?limit={LIST_LIMIT}", key),
        ),
        Scenario(
            "GET /v1/models?cursor=… (page 2)",
            LIST,
            200,
            lambda h: h.call("GET", f"/v1/models?limit={LIST_LIMIT}&cursor={cursor}", key),
        ),
        Scenario(
            "POST /v1/models",
            WRITE,
            201,
            lambda h: h.call("POST", "/v1/models", key, model_body("New")),
        ),
        Scenario(
            "POST /v1/models + Idempotency-Key",
            WRITE,
            201,
            lambda h: h.call("POST", "/v1/models", key, model_body("New"), headers=new_key()),
        ),
        Scenario(
            "POST /v1/models, replayed key",
            REPLAY,
            201,
            lambda h: h.call(
                "POST", "/v1/models", key, replayed, headers={"Idempotency-Key": "bench-replay"}
            ),
        ),
        Scenario("PATCH /v1/models/{id}", WRITE, 200, PatchModel(model_id, key)),
    ]


def print_table(results: list[tuple[Scenario, list[Run]]]) -> None:
    header = ("request", "budget", "run", "status", KEY_LOOKUP, SECRETS, "request path", "verdict")
    rows = [header]
    for scenario, runs in results:
        for i, run in enumerate(runs):
            rows.append(
                (
                    scenario.label if i == 0 else "",
                    scenario.budget.text if i == 0 else "",
                    run.name,
                    str(run.status),
                    describe(run.calls.by_part[KEY_LOOKUP]),
                    describe(run.calls.by_part[SECRETS]),
                    describe(run.calls.by_part[REQUEST]),
                    "EXCEEDED" if run.problems else "within",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, and list any budget exceeded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a budget is exceeded")
    args = parser.parse_args(argv)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    logging.disable(logging.INFO)  # the app's request log lines would bury the table
    COUNTER.install()  # before the first botocore session exists
    from infra.provision import provision

    with mock_aws():
        os.environ.update(provision(boto3.session.Session(), "bench", PLATFORM_KEY))
        setup = fresh_app()
        seeded = seed(setup, models=SEEDED_MODELS)
        results = [(s, measure(s)) for s in scenarios(setup, seeded)]

    print("AWS calls per request (DESIGN.md section 10), moto in-process.")
    print("cold = first request of a fresh process; warm = the next request of the same kind.")
    print("The budget is about the request path; key lookup and secrets must be cached when warm.")
    print()
    print_table(results)
    problems = [p for _, runs in results for run in runs for p in run.problems]
    seen = {service for _, runs in results for run in runs for service in run.calls.services}
    print()
    print(f"services called: {', '.join(sorted(seen))}")
    if not problems:
        print("All within budget.")
        return 0
    print("Budget exceeded:")
    for scenario, runs in results:
        for run in runs:
            for problem in run.problems:
                print(f"  {scenario.label}: {problem}")
    return 1 if args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
