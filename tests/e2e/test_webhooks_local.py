"""Under `make run`, as a new user tries webhooks: a receiver listening on 127.0.0.1 (the
local-development setting allows it, and the stack says so), a subscription, events the
API's changes cause, signed so the Standard Webhooks library verifies them, and the
delivery log; everything over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook as Verifier

from tests.harness.receiver import receiving
from tests.harness.stack import LocalStack, start

PLATFORM_KEY = "cusp_e2e-webhooks-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY)
    yield running
    running.stop()


def call(stack: LocalStack, method: str, path: str, key: str, body: Any = None) -> Any:
    answer = requests.request(
        method,
        stack.base_url + path,
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


def test_a_subscriber_on_this_machine_gets_signed_events_and_sees_them_logged(
    stack: LocalStack,
) -> None:
    assert "local development setting on" in stack.banner + "".join(stack.output)
    admin, developer = stack.key("admin"), stack.key("developer")
    with receiving() as receiver:
        hook = call(
            stack,
            "POST",
            "/v1/webhooks",
            admin,
            {"url": receiver.url(), "events": ["model.created", "webhook.test"]},
        )
        assert hook["secret"].startswith("whsec_")
        model = call(
            stack,
            "POST",
            "/v1/models",
            developer,
            {"name": "E2E", "purpose": "Hooks", "risk_tier": 3},
        )
        queued = call(stack, "POST", f"/v1/webhooks/{hook['id']}/test", admin)
        got = receiver.wait_for(2, seconds=30)
    by_type = {r.event["type"]: r for r in got}
    assert set(by_type) == {"model.created", "webhook.test"}
    created = by_type["model.created"]
    headers = {
        k: created.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    assert Verifier(hook["secret"]).verify(created.body, headers)["data"]["id"] == model["id"]
    assert by_type["webhook.test"].headers["webhook-id"] == queued["event_id"]
    log = call(stack, "GET", f"/v1/webhooks/{hook['id']}/deliveries", admin)["items"]
    assert {d["status"] for d in log} == {"delivered"} and len(log) == 2
    assert all(d["attempts"][0]["status_code"] == 200 for d in log)
