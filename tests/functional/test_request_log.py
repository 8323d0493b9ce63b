"""Every request logs one structured line that is also an embedded-metric record."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import Api, Tenant


def test_request_lines_carry_ids_route_status_and_metrics_but_never_the_key(
    api: Api, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    key = tenant.keys["developer"]
    with caplog.at_level(logging.INFO, logger="custos"):
        answer = api.get("/v1/models", key)
        api.post("/v1/models", key, {"name": "x"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "custos"]
    ok, bad = lines[-2], lines[-1]
    assert ok["request_id"] == answer.headers["x-request-id"]
    assert ok["tenant"] == tenant.id and ok["principal"] == tenant.ids["developer"]
    assert (ok["route"], ok["status"], ok["status_class"]) == ("GET /v1/models", 200, "2xx")
    assert (bad["route"], bad["status"], bad["status_class"]) == ("POST /v1/models", 400, "4xx")
    metrics = ok["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Dimensions"] == [["route", "status_class"]]
    assert {m["Name"] for m in metrics["Metrics"]} == {"Requests", "Latency"}
    assert ok["Requests"] == 1 and ok["Latency"] >= 0
    text = caplog.text
    assert key not in text and key.split("_")[-1] not in text
