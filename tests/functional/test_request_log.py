"""Every request writes one JSON line to stdout that is also an embedded-metric record.

Read from the process's stdout (capsys), with the logging configuration the app gives
itself: nothing here lowers a level or adds a handler.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api, Tenant
from tests.harness.world import secret_part


def lines(out: str) -> list[dict[str, Any]]:
    """The JSON lines written to stdout; anything else there fails the test."""
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_each_request_writes_one_line_with_its_ids_route_status_and_metrics(
    api: Api, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tenant.keys["developer"]
    capsys.readouterr()
    ok = api.get("/v1/models", key)
    bad = api.post("/v1/models", key, {"name": "x"})
    written = lines(capsys.readouterr().out)
    assert [line["request_id"] for line in written] == [
        ok.headers["x-request-id"],
        bad.headers["x-request-id"],
    ]
    first, second = written
    assert (first["tenant"], first["actor"]) == (tenant.id, tenant.ids["developer"])
    assert (first["route"], first["status"], first["status_class"]) == (
        "GET /v1/models",
        200,
        "2xx",
    )
    assert (second["route"], second["status"], second["level"]) == ("POST /v1/models", 400, "INFO")
    metrics = first["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Namespace"] == "Custos"
    assert metrics["Dimensions"] == [["route", "status_class"]]
    assert {m["Name"] for m in metrics["Metrics"]} == {"Requests", "Latency"}
    assert first["Requests"] == 1 and first["Latency"] >= 0


def test_a_line_never_holds_the_key_its_secret_or_the_body(
    api: Api, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tenant.keys["developer"]
    capsys.readouterr()
    api.post(
        "/v1/models",
        key,
        {"name": "Secret sauce", "purpose": "Very private purpose", "risk_tier": 2},
        headers={"Idempotency-Key": "idem-key-in-a-header"},
    )
    api.get("/v1/models", key[:-4] + "AAAA")  # a wrong secret: 401
    out = capsys.readouterr().out
    assert len(lines(out)) == 2
    for leaked in (key, secret_part(key), "Very private purpose", "idem-key-in-a-header"):
        assert leaked not in out


def test_a_500_logs_its_traceback_with_the_request_id_and_answers_only_the_id(
    api: Api, tenant: Tenant, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import reads

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("inventory exploded")

    monkeypatch.setattr(reads, "models_page", broken)
    capsys.readouterr()
    answer = api.get("/v1/models", tenant.keys["developer"])
    (line,) = lines(capsys.readouterr().out)
    assert answer.status == 500 and "inventory exploded" not in answer.raw.decode()
    assert line["request_id"] == answer.headers["x-request-id"] == answer.json["request_id"]
    assert (line["level"], line["status"], line["error"]) == ("ERROR", 500, "RuntimeError")
    assert "inventory exploded" in line["traceback"] and "broken" in line["traceback"]


def test_an_answer_chalice_gives_itself_is_logged_with_a_request_id(
    api: Api, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    answer = api.call("PUT", "/v1/models", tenant.keys["developer"], body={})
    (line,) = lines(capsys.readouterr().out)
    assert answer.status == 405
    assert line["request_id"] == answer.headers["x-request-id"] == answer.json["request_id"]
    assert (line["route"], line["status"]) == ("PUT /v1/models", 405)
