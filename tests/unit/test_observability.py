"""Consumer batches and schedule runs log one JSON line each, with their embedded metrics."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chalicelib import observability


def only_line(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    (line,) = capsys.readouterr().out.splitlines()
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_a_batch_with_partial_failures_logs_its_ids_counts_and_outcome(
    capsys: pytest.CaptureFixture[str],
) -> None:
    observability.log_invocation(
        "webhook_delivery",
        "queue",
        started=time.perf_counter(),
        message_ids=["m-1", "m-2", "m-3"],
        failed=1,
        tenant="ten_1",
        actor="webhook-delivery",
    )
    line = only_line(capsys)
    assert (line["message"], line["kind"], line["handler"]) == (
        "invocation",
        "queue",
        "webhook_delivery",
    )
    assert line["message_ids"] == ["m-1", "m-2", "m-3"] and line["count"] == 3
    assert (line["failed"], line["outcome"], line["level"]) == (1, "partial", "ERROR")
    assert (line["tenant"], line["actor"]) == ("ten_1", "webhook-delivery")
    metrics = line["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Dimensions"] == [["handler", "kind"]]
    assert {m["Name"] for m in metrics["Metrics"]} == {
        "Invocations",
        "Messages",
        "Failed",
        "Latency",
    }
    assert (line["Invocations"], line["Messages"], line["Failed"]) == (1, 3, 1)


def test_a_schedule_run_that_succeeds_is_ok_with_a_count_and_no_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with observability.invocation("compliance_scan", "schedule", actor="scheduler") as run:
        run.count = 4
    line = only_line(capsys)
    assert (line["outcome"], line["level"], line["count"], line["message_ids"]) == (
        "ok",
        "INFO",
        4,
        [],
    )
    assert line["tenant"] is None and line["Latency"] >= 0


def test_a_batch_whose_every_message_failed_is_failed(capsys: pytest.CaptureFixture[str]) -> None:
    with observability.invocation("relay", "stream", message_ids=["a", "b"]) as run:
        run.failed = 2
    assert only_line(capsys)["outcome"] == "failed"


def test_an_exception_logs_error_with_its_traceback_and_propagates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with (
        pytest.raises(ValueError, match="bad record"),
        observability.invocation("relay", "stream", message_ids=["a", "b"]),
    ):
        raise ValueError("bad record")
    line = only_line(capsys)
    assert (line["outcome"], line["failed"], line["error"]) == ("error", 2, "ValueError")
    assert "bad record" in line["traceback"]


def test_a_long_stream_batch_lists_a_hundred_ids_and_counts_them_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = [f"r-{n}" for n in range(1000)]
    observability.log_invocation("relay", "stream", started=time.perf_counter(), message_ids=ids)
    line = only_line(capsys)
    assert len(line["message_ids"]) == 100 and line["count"] == 1000
