"""The benchmark machinery works: it reaches every route by itself, judges each against
a budget derived from its declaration, and flags what exceeds it. Nothing here times
anything (docs/architecture.md, section 9: budgets are checked by benchmarks, never by timed
tests)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from bench import consumer_calls
from bench.aws_calls import COUNTER, PARTS, Case, cases, measure, measure_all, report
from bench.budgets import EXPLICIT, LIST, READ, UNBUDGETED, WRITE, budget_for, stale_explicit
from bench.latency import time_route
from bench.list_page import report as list_page_report
from bench.report import Report, table
from bench.routes import UNDECLARED, label, routes
from chalicelib.config import settings
from chalicelib.domain.models import ListPage
from tests.conftest import PLATFORM_KEY, Api, Tenant
from tests.functional.route_fixtures import running_api
from tests.harness import executions
from tests.harness.consumers import Capture, declared
from tests.harness.exercise import Exerciser
from tests.harness.fake_workflow import play_workflow
from tests.harness.scenario import Scenario


@pytest.fixture
def counted(api: Api) -> Iterator[Api]:
    """The app, with every AWS call it makes from now on seen by the bench's counter."""
    from chalicelib import bootstrap

    COUNTER.install()
    bootstrap.reset()  # clients are made anew, from sessions that carry the counter
    yield api


def served_routes() -> set[str]:
    from app import app

    return {f"{method} {path}" for path, methods in app.routes.items() for method in methods}


def test_the_routes_are_the_ones_the_app_serves_undeclared_ones_included() -> None:
    found = {label(op) for op in routes()}
    assert found == served_routes()
    assert "GET /v1/openapi.json" in found


def test_budgets_follow_the_declarations() -> None:
    for op in routes():
        budget = budget_for(op)
        if label(op) in EXPLICIT:
            assert budget is EXPLICIT[label(op)]
        elif op.method != "GET":
            assert budget is WRITE, label(op)
        elif op.response is not None and issubclass(op.response, ListPage):
            assert budget is LIST, label(op)
        else:
            assert budget is READ, label(op)
        assert budget is not UNBUDGETED, f"{label(op)} has no budget"


def test_a_route_nobody_budgeted_is_flagged_even_when_it_makes_no_call() -> None:
    stand_in = next(op for op in routes() if op.tag == UNDECLARED)
    assert budget_for(stand_in) is EXPLICIT[label(stand_in)]
    assert UNBUDGETED.excess(Counter(), None)
    assert not READ.excess(Counter({"DynamoDB.GetItem": 1}), None)
    assert READ.excess(Counter({"DynamoDB.GetItem": 1, "DynamoDB.Query": 1}), None) == {
        "DynamoDB.Query": (1, 0)
    }


def test_verifying_the_audit_chain_may_read_a_page_per_500_new_events() -> None:
    verify = EXPLICIT["GET /v1/audit/verify"]
    nothing_new = verify.allowed({"verified_from": 11, "verified_to": 10})
    assert nothing_new == {"DynamoDB.GetItem": 2, "DynamoDB.Query": 1, "DynamoDB.PutItem": 0}
    many = verify.allowed({"verified_from": 1, "verified_to": 1200})
    assert many == {"DynamoDB.GetItem": 2, "DynamoDB.Query": 4, "DynamoDB.PutItem": 1}


def test_every_route_the_app_serves_has_cases_to_measure(api: Api, tenant: Tenant) -> None:
    ex = Exerciser(api, tenant, PLATFORM_KEY, play_workflow)
    measured = {label(case.op) for op in routes() for case in cases(op, ex)}
    assert measured == served_routes()
    assert stale_explicit(routes()) == []


def test_each_kind_of_case_is_measured_with_accepted_requests(counted: Api, tenant: Tenant) -> None:
    # GIVEN a route of each kind: idempotent (a new key, a replay), paged, undeclared
    ops = routes()
    sample = [
        next(op for op in ops if op.idempotent),
        next(op for op in ops if any(q.name == "cursor" for q in op.query)),
        next(op for op in ops if op.tag == UNDECLARED),
    ]
    # WHEN the calls part measures them
    found = measure_all(
        sample, Exerciser(counted, tenant, PLATFORM_KEY, play_workflow), lambda: counted
    )
    entries = {row: entry for row, entry in found.items() if not row.startswith("_")}
    # THEN every case was answered as its route declares
    assert len(entries) == 3 + 2 + 1  # the route and its variants
    for row, entry in entries.items():
        assert "skipped" not in entry, row
        assert not [p for p in entry["problems"] if "answered" in p], row
    # and a replay answers the stored answer without a second write
    replayed = entries[f"{label(sample[0])} replayed"]
    assert "DynamoDB.TransactWriteItems" not in replayed["warm"]["request"]
    assert replayed["warm"]["status"] == sample[0].status


def test_a_route_above_its_budget_is_flagged(counted: Api, tenant: Tenant) -> None:
    # GIVEN a write judged against the budget of a read
    post = next(op for op in routes() if label(op) == "POST /v1/models")
    ex = Exerciser(counted, tenant, PLATFORM_KEY, play_workflow)
    case = Case("a write as a read", post, READ, lambda: (ex.prepare(post), ex.prepare(post)))
    # WHEN it is measured
    entry = measure(case, lambda: counted)
    # THEN both runs are above budget, and the report flags it
    assert entry["within"] is False and entry["above"] == ["cold", "warm"]
    assert any("DynamoDB.TransactWriteItems 1 > 0" in p for p in entry["problems"])
    shown = report({case.label: entry, "_stale": []})
    assert shown.cells[case.label]["within"] == "ABOVE"
    assert len(shown.flagged) == 2


def test_every_declared_consumer_and_schedule_is_measured_on_an_input_the_system_gave_it() -> None:
    # GIVEN the system run once under executing moto, its consumers' inputs captured
    COUNTER.install()
    with running_api(executions.EXECUTING) as api:  # clients built after: counted
        from app import app

        table = settings().table
        capture = Capture(app, table)
        with capture.installed():
            Scenario(api, PLATFORM_KEY, dict(os.environ)).run()
        # WHEN the calls part measures what they were handed
        try:
            found = {
                consumer_calls.row(i): consumer_calls.measure(
                    i, table, COUNTER, PARTS, new_app=lambda: app
                )
                for i in consumer_calls.measured_inputs(capture.inputs)
            }
        finally:
            executions.stop_all()
    # THEN every declared entry point has a row, accepted its input cold and warm, and
    # made AWS calls, no more warm than cold; rows are reported without a budget verdict
    assert {entry["route"] for entry in found.values()} == {str(e) for e in declared()}
    for row, entry in found.items():
        assert entry["problems"] == [], row
        cold, warm = entry["cold"]["request"], entry["warm"]["request"]
        assert cold and sum(warm.values()) <= sum(cold.values()), row
    assert {cells["within"] for cells in report(found).cells.values()} == {"-"}


def test_latency_prepares_a_consuming_request_anew_for_every_call(api: Api, tenant: Tenant) -> None:
    revoke = next(op for op in routes() if label(op) == "DELETE /v1/api-keys/{key_id}")
    figures = time_route(Exerciser(api, tenant, PLATFORM_KEY, play_workflow), revoke, calls=3)
    assert figures["n"] == 3 and figures["prepared"] == "per call"
    assert figures["unexpected"] == {}


def test_the_table_joins_the_parts_columns_by_route() -> None:
    calls = Report(cells={"GET /a": {"budget": "1 GetItem"}, "GET /b": {"budget": "1 Query"}})
    latency = Report(cells={"GET /b": {"median ms": "2.0"}})
    lines = table([calls, latency]).splitlines()
    assert lines[0].split() == ["route", "budget", "median", "ms"]
    assert lines[2].split() == ["GET", "/a", "1", "GetItem"]
    assert lines[3].split() == ["GET", "/b", "1", "Query", "2.0"]


def _list_page_result(single_ms: float, page_ms: float) -> dict[str, Any]:
    figures = {"p95_ms": 0.0, "n": 50, "unexpected": 0}
    return {
        "models": 1000,
        "page": 100,
        "seeding_seconds": 15.0,
        "single_get": {**figures, "median_ms": single_ms},
        "list_page": {**figures, "median_ms": page_ms},
        "write": {**figures, "median_ms": 8.0},
        "ratio": round(page_ms / single_ms, 1),
        "target_ratio": 4.0,
    }


def test_a_list_page_is_flagged_when_it_costs_more_than_four_single_gets() -> None:
    within = list_page_report(_list_page_result(single_ms=5.0, page_ms=20.0))
    above = list_page_report(_list_page_result(single_ms=5.0, page_ms=21.0))
    assert within.flagged == []
    assert above.flagged == ["list page 4.2x a single GET > 4x"]
    assert above.cells["GET /v1/models?limit=100 of 1000"]["median ms"] == "21.0"
