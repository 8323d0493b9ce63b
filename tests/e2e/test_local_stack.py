"""`make run`'s server, driven over real HTTP as a new user would, then stopped with Ctrl-C."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests

from tests.harness.stack import LocalStack, moto_client, start
from tests.harness.tap import EventTap

PLATFORM_KEY = "cusp_e2e-platform-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY)
    yield running
    running.stop()


def call(
    stack: LocalStack,
    method: str,
    path: str,
    key: str | None = None,
    body: dict | None = None,
    **headers: str,
) -> requests.Response:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    return requests.request(method, stack.base_url + path, json=body, headers=sent, timeout=10)


def test_make_run_prints_a_demo_tenant_with_every_role(stack: LocalStack) -> None:
    roles = re.findall(r"^\s+(\w+)\s+.+ (cus_key_\S+)$", stack.banner, flags=re.M)
    counted = {role: sum(1 for r, _ in roles if r == role) for role, _ in roles}
    assert counted == {
        "admin": 1,
        "developer": 2,
        "validator": 2,
        "approver": 3,
        "auditor": 1,
        "monitor": 1,
    }
    assert f"Platform key:  {PLATFORM_KEY}" in stack.banner
    developer = next(key for role, key in roles if role == "developer")
    assert call(stack, "GET", "/v1/me", developer).json()["roles"] == ["developer"]


def test_a_demo_validator_classifies_a_model_with_the_key_make_run_prints(
    stack: LocalStack,
) -> None:
    # GIVEN the demo's keys, each rotated by its holder, and a model a developer proposes
    developer, validator = stack.key("developer"), stack.key("validator")
    assert call(stack, "GET", "/v1/me", validator).json()["own_key"] is True
    body = {"name": "Demo PD", "purpose": "Probability of default", "risk_tier": 3}
    model = call(stack, "POST", "/v1/models", developer, body).json()
    assert model["risk_tier_in_force"] == 1
    # WHEN the validator classifies it
    classified = call(
        stack,
        "POST",
        f"/v1/models/{model['id']}/classification",
        validator,
        {"risk_tier": 3, "regulatory_scope": ["sr-11-7"]},
        If_Match='"1"',
    )
    # THEN the tier is confirmed and in force
    assert classified.status_code == 200, classified.text
    assert (classified.json()["risk_tier_confirmed"], classified.json()["risk_tier_in_force"]) == (
        True,
        3,
    )


def test_a_new_tenant_keeps_its_inventory_and_events_reach_the_topic(stack: LocalStack) -> None:
    aws = SimpleNamespace(client=lambda service: moto_client(stack, service))
    topic = moto_client(stack, "sns").list_topics()["Topics"][0]["TopicArn"]
    tap = EventTap(aws, topic)  # a queue taking every event the topic fans out
    created = call(
        stack,
        "POST",
        "/v1/tenants",
        PLATFORM_KEY,
        {"name": "E2E Bank", "admin_name": "Eve", "admin_email": "eve@e2e.example"},
    )
    assert created.status_code == 201
    admin = created.json()["api_key"]["secret"]
    dev = call(stack, "POST", "/v1/principals", admin, {"name": "Dev", "roles": ["developer"]})
    key = call(
        stack, "POST", "/v1/api-keys", admin, {"principal_id": dev.json()["id"], "name": "cli"}
    ).json()["secret"]
    model = call(
        stack,
        "POST",
        "/v1/models",
        key,
        {"name": "Pricing", "purpose": "Quote premiums", "risk_tier": 1},
        Idempotency_Key="e2e-1",
    )
    assert model.status_code == 201 and model.headers["Location"].startswith("/v1/models/mdl_")
    model_id = model.json()["id"]
    patched = call(
        stack,
        "PATCH",
        f"/v1/models/{model_id}",
        key,
        {"tags": ["motor"]},
        If_Match=model.headers["ETag"],
    )
    assert patched.status_code == 200 and patched.json()["tags"] == ["motor"]
    version = call(
        stack,
        "POST",
        f"/v1/models/{model_id}/versions",
        key,
        {"model_card": {"intended_use": "Motor pricing"}},
    )
    assert version.status_code == 201 and version.json()["number"] == 1
    bad = call(stack, "POST", "/v1/models", key, {"name": "x"})
    assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
    assert call(stack, "GET", "/v1/audit/verify", admin).json()["valid"] is True
    # the dispatcher relays the outbox to the fan-out topic by itself
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while "version.created" not in seen and time.monotonic() < deadline:
        for event in tap.take():
            if event["tenant_id"] == created.json()["tenant"]["id"]:
                seen.add(event["type"])
        time.sleep(0.5)
    assert {"tenant.created", "model.created", "model.updated", "version.created"} <= seen


def test_unknown_routes_are_problem_json_404_as_on_aws(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/v1/nowhere")
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["status"] == 404


def test_a_method_no_route_takes_is_a_405_and_the_connection_stays_usable(
    stack: LocalStack,
) -> None:
    with requests.Session() as session:
        odd = session.request(
            "TRACE", stack.base_url + "/v1/models", data=b'{"name": "x"}', timeout=10
        )
        assert odd.status_code == 405
        assert odd.headers["Content-Type"] == "application/problem+json"
        assert odd.headers["Allow"] == "GET, POST"
        # the body was read, so the next request on the same connection is understood
        assert session.get(stack.base_url + "/v1/health", timeout=10).status_code == 200


def test_an_unknown_route_never_echoes_the_callers_key(stack: LocalStack) -> None:
    answer = call(stack, "GET", "/v1/nowhere", "cus_key_secret-that-must-not-echo")
    assert answer.status_code == 404
    assert "must-not-echo" not in answer.text


# Last: it stops the module's stack.
def test_ctrl_c_stops_everything_cleanly(stack: LocalStack) -> None:
    assert stack.stop() == 0
    assert "stopped\n" in stack.output
    with pytest.raises(requests.ConnectionError):
        requests.get(stack.base_url + "/v1/health", timeout=1)
