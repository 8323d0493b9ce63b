"""The load run's checks fail when a write is missing, doubled or phantom, or a refusal changed
something; contention answers are counted, never failed."""

from __future__ import annotations

from dataclasses import replace

from bench.load_check import Findings, _exactly_once
from bench.load_record import MEASURED, Call, Routes
from bench.load_report import classify
from chalicelib.errors import PROBLEM_BASE


def call(request_id: str, status: int | None = 201, replayed: bool = False) -> Call:
    return Call(
        client=0,
        phase=MEASURED,
        method="POST",
        path="/v1/models",
        route="POST /v1/models",
        tenant="ten_a",
        seconds=0.01,
        status=status,
        error=None if status else "timeout",
        request_id=request_id if status else None,
        location=None,
        replayed=replayed,
        idempotency_key=None,
    )


def check(calls: list[Call], events: dict[str, int]) -> Findings:
    found = Findings()
    where = {rid: [("ten_a", seq) for seq in range(n)] for rid, n in events.items()}
    _exactly_once(found, calls, where, Routes([]))
    return found


def test_writes_recorded_exactly_once_pass() -> None:
    found = check([call("r1"), call("r2", 409), call("r3", replayed=True)], {"r1": 1})
    assert not any(found.failures.values())
    assert found.counts["acknowledged_exactly_once"] == 1


def test_a_missing_or_doubled_acknowledged_write_fails() -> None:
    found = check([call("r1"), call("r2")], {"r2": 2})
    assert found.counts["acknowledged_not_exactly_once"] == 2


def test_a_recorded_refusal_or_replay_fails() -> None:
    found = check([call("r1", 503), call("r2", 200, replayed=True)], {"r1": 1, "r2": 1})
    assert found.counts["refused_write_recorded"] == 1
    assert found.counts["replay_recorded"] == 1


def test_an_event_no_request_explains_fails_unless_a_write_went_unanswered() -> None:
    assert check([call("r1")], {"r1": 1, "ghost": 1}).failures["unexplained_events"]
    assert not check([call("r1"), call("-", None)], {"r1": 1, "ghost": 1}).failures.get(
        "unexplained_events"
    )


def test_a_write_whose_outcome_is_unknown_may_be_recorded_once_but_not_twice() -> None:
    unknown = replace(call("r1", 503), retry_after="1", problem=PROBLEM_BASE + "outcome-unknown")
    assert not any(check([unknown], {"r1": 1}).failures.values())
    assert not any(check([unknown], {}).failures.values())
    assert check([unknown], {"r1": 2}).counts["outcome_unknown_recorded_twice"] == 1


def test_a_retryable_503_that_changed_something_fails() -> None:
    busy = replace(call("r1", 503), retry_after="1", problem=PROBLEM_BASE + "unavailable")
    assert check([busy], {"r1": 1}).counts["refused_write_recorded"] == 1


def test_contention_answers_are_figures_and_a_503_without_retry_after_is_an_error() -> None:
    # GIVEN a write that lost a race, one that found the chain busy, and a bare 503
    lost = call("r1", 409)
    busy = replace(call("r2", 503), retry_after="1")
    bare = call("r3", 503)

    # WHEN the load's answers are classified
    classified = classify([lost, busy, bare])

    # THEN the first two are contention and only the bare 503 is an error
    assert classified["contention"]["409"]["count"] == 1
    assert classified["contention"]["503"]["count"] == 1
    assert classified["errors"]["5xx"] == classified["errors"]["total"] == 1
    assert classified["errors"]["examples"] == ["measured POST /v1/models: 503 without Retry-After"]
