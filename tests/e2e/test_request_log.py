"""`make run`'s stdout holds one JSON line per request, named by the answer's X-Request-Id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness.clients import HttpApi
from tests.harness.stack import start
from tests.harness.world import secret_part

PLATFORM_KEY = "cusp_e2e-log-platform-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


def test_make_run_prints_a_json_line_per_request_with_its_id_and_never_a_key() -> None:
    # GIVEN make run's stack, as a real subprocess
    stack = start(PLATFORM_KEY)
    try:
        api = HttpApi(stack.base_url)
        developer = stack.key("developer")
        # WHEN a few requests are made: anonymous, authenticated, creating, refused
        answers = [
            api.get("/v1/health"),
            api.get("/v1/me", developer),
            api.post(
                "/v1/models",
                developer,
                {"name": "Logged", "purpose": "A body nobody logs", "risk_tier": 2},
                headers={"Idempotency-Key": "log-test-1"},
            ),
            api.get("/v1/models", developer[:-4] + "AAAA"),
        ]
        api.close()
    finally:
        exit_code = stack.stop()
    # THEN stdout holds their lines, in order, and nothing of the keys or the body
    assert exit_code == 0
    logged: list[dict[str, Any]] = [
        json.loads(line) for line in stack.output if line.startswith("{")
    ]
    by_id = {line["request_id"]: line for line in logged if line.get("kind") == "http"}
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert [by_id[i]["status"] for i in ids] == [200, 200, 201, 401]
    assert [by_id[i]["route"] for i in ids] == [
        "GET /v1/health",
        "GET /v1/me",
        "POST /v1/models",
        "GET /v1/models",
    ]
    assert by_id[ids[1]]["actor"] == answers[1].json["principal_id"]
    assert by_id[ids[1]]["tenant"] == answers[1].json["tenant_id"]
    assert all("_aws" in by_id[i] for i in ids)
    printed = "".join(stack.output + stack.errors)
    for leaked in (developer, secret_part(developer), "A body nobody logs", "log-test-1"):
        assert leaked not in printed
    assert not any('"request_id"' in line for line in stack.errors)
