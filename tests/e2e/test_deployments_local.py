"""Under `make run`, over HTTP as a user does it: a version approved by the stack's own state
machine goes to production, the inventory shows its model in production, the deployment
ends, and the version is retired."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.harness.stack import LocalStack, start

PLATFORM_KEY = "cusp_e2e-deploy-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY)
    yield running
    running.stop()


def call(stack: LocalStack, method: str, path: str, key: str, body: Any = None) -> Any:
    return requests.request(
        method,
        stack.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def read(stack: LocalStack, path: str) -> Any:
    answer = call(stack, "GET", path, stack.key("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def eventually(condition: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not reached within {seconds} s")


def test_an_approved_version_runs_in_production_then_is_retired(stack: LocalStack) -> None:
    developer = stack.key("developer")
    # GIVEN a version approved through every stage its policy gives it
    body = {"name": "E2E deploy", "purpose": "p", "risk_tier": 3}
    model = call(stack, "POST", "/v1/models", developer, body).json()
    version = f"/v1/models/{model['id']}/versions/1"
    card = {"intended_use": "e2e", "metrics": "AUC 0.8"}
    made = call(
        stack, "POST", f"/v1/models/{model['id']}/versions", developer, {"model_card": card}
    )
    assert made.status_code == 201, made.text
    submitted = call(stack, "POST", f"{version}/approval-requests", developer, {})
    assert submitted.status_code == 201, submitted.text
    request = f"/v1/approval-requests/{submitted.json()['id']}"

    def opened(index: int) -> Callable[[], bool]:
        return lambda: read(stack, request)["stages"][index]["status"] == "open"

    for index, stage in enumerate(submitted.json()["stages"]):
        eventually(opened(index))
        for n in range(stage["quorum"]):
            decided = call(
                stack,
                "POST",
                f"{request}/decisions",
                stack.key(stage["role"], n),
                {"outcome": "approve"},
            )
            assert decided.status_code == 201, decided.text
    eventually(lambda: read(stack, version)["status"] == "approved")
    assert read(stack, f"/v1/models/{model['id']}")["status"] == "approved"
    # WHEN the monitor records it in production
    production = {"environment": "production", "target": "sagemaker:endpoint/e2e"}
    deployed = call(stack, "POST", f"{version}/deployments", stack.key("monitor"), production)
    # THEN the inventory of production models lists its model
    assert deployed.status_code == 201, deployed.text
    listed = read(stack, "/v1/models?status=in_production")
    assert model["id"] in [m["id"] for m in listed["items"]]
    # WHEN the deployment ends and the team retires the version, THEN the model is retired
    location = deployed.headers["Location"]
    assert call(stack, "DELETE", location, stack.key("monitor")).status_code == 204
    retired = call(stack, "POST", f"{version}/retire", developer)
    assert retired.status_code == 200, retired.text
    assert read(stack, f"/v1/models/{model['id']}")["status"] == "retired"
    assert read(stack, location)["until"]
    assert read(stack, "/v1/audit/verify?full=true")["valid"]
