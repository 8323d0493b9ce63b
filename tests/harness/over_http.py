"""Steps the e2e tests take against `make run`'s stack over HTTP, as a user would."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from tests.harness.stack import LocalStack


def call(stack: LocalStack, method: str, path: str, key: str, body: Any = None) -> Any:
    return requests.request(
        method,
        stack.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def read(stack: LocalStack, path: str) -> Any:
    """GET `path` as the demo tenant's auditor; its JSON (a 200 or the test fails)."""
    answer = call(stack, "GET", path, stack.key("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def eventually(condition: Callable[[], Any], seconds: float = 60) -> Any:
    """What `condition()` first answers truthy, asked twice a second for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not reached within {seconds} s")


def approved_version(stack: LocalStack, name: str) -> tuple[dict[str, Any], str]:
    """A new tier-3 model of the demo tenant whose version 1 (with its model card) every
    stage its policy gives it has approved, each stage decided by its quorum once the
    stack's state machine opened it; the model and the version's path."""
    developer = stack.key("developer")
    model = call(
        stack, "POST", "/v1/models", developer, {"name": name, "purpose": "p", "risk_tier": 3}
    ).json()
    version = f"/v1/models/{model['id']}/versions/1"
    card = {"intended_use": "e2e", "metrics": "AUC 0.8"}
    made = call(
        stack, "POST", f"/v1/models/{model['id']}/versions", developer, {"model_card": card}
    )
    assert made.status_code == 201, made.text
    submitted = call(stack, "POST", f"{version}/approval-requests", developer, {})
    assert submitted.status_code == 201, submitted.text
    request = f"/v1/approval-requests/{submitted.json()['id']}"
    for index, stage in enumerate(submitted.json()["stages"]):

        def opened(i: int = index) -> bool:
            return bool(read(stack, request)["stages"][i]["status"] == "open")

        eventually(opened)
        for n in range(stage["quorum"]):
            key = stack.key(stage["role"], n)
            decided = call(stack, "POST", f"{request}/decisions", key, {"outcome": "approve"})
            assert decided.status_code == 201, decided.text
    eventually(lambda: read(stack, version)["status"] == "approved")
    return model, version
