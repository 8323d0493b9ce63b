"""The load run's exactly-once check fails when a write is missing, doubled or phantom."""

from __future__ import annotations

from bench.load_check import Findings, _exactly_once
from bench.load_record import MEASURED, Call, Routes


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
