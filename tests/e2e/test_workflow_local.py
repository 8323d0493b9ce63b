"""Under `make run`, Step Functions executions really run: a submitted request's workflow
starts from the fan-out, its stage's task token comes back through the embedded moto
server, and the approver's decision closes it, each step applied by the app's own
consumers; everything is done over HTTP, as a user of `make run` does it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.harness.over_http import eventually
from tests.harness.stack import LocalStack, start

PLATFORM_KEY = "cusp_e2e-workflow-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY)
    yield running
    running.stop()


def get(stack: LocalStack, path: str, key: str) -> Any:
    answer = requests.get(
        stack.base_url + path, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def post(stack: LocalStack, path: str, key: str, body: dict[str, Any]) -> Any:
    answer = requests.post(
        stack.base_url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def actions(stack: LocalStack) -> list[str]:
    """The trail's actions, every page (each read of it appends an audit.read, left out)."""
    found, path = [], "/v1/audit-events?limit=100&from_seq=1"
    for _ in range(50):
        page = get(stack, path, stack.key("auditor"))
        found += [e["action"] for e in page["items"] if e["action"] != "audit.read"]
        if not page["next_cursor"]:
            return found
        path = f"/v1/audit-events?limit=100&from_seq=1&cursor={page['next_cursor']}"
    raise AssertionError("the trail did not end in 50 pages")


def test_a_version_is_approved_through_the_stacks_own_state_machine(stack: LocalStack) -> None:
    # GIVEN a tier-3 version with its model card, submitted over HTTP
    developer, approver = stack.key("developer"), stack.key("approver")
    model = post(stack, "/v1/models", developer, {"name": "E2E", "purpose": "p", "risk_tier": 3})
    # (a validator outside the team confirms tier 3, or the policy would apply tier 1's)
    confirmed = requests.post(
        f"{stack.base_url}/v1/models/{model['id']}/classification",
        json={"risk_tier": 3, "regulatory_scope": []},
        headers={"Authorization": f"Bearer {stack.key('validator')}", "If-Match": '"1"'},
        timeout=10,
    )
    assert confirmed.status_code == 200, confirmed.text
    versions = f"/v1/models/{model['id']}/versions"
    post(stack, versions, developer, {"model_card": {"intended_use": "e2e"}})
    request = post(stack, f"{versions}/1/approval-requests", developer, {"kind": "approval"})
    path = f"/v1/approval-requests/{request['id']}"
    # THEN the stack's dispatcher relays it, its consumer starts the execution, and the
    # state machine's message opens the stage
    eventually(lambda: get(stack, path, approver)["status"] == "in_review")
    # WHEN the approver approves, THEN the workflow's outcome approves the version
    post(stack, f"{path}/decisions", approver, {"outcome": "approve"})
    eventually(lambda: get(stack, f"{versions}/1", developer)["status"] == "approved")
    assert "approval.approved" in actions(stack)
    verified = get(stack, "/v1/audit/verify?full=true", stack.key("auditor"))
    assert verified["valid"]
    # AND each consumer batch left its JSON line on the stack's stdout
    lines = "".join(stack.output)
    for handler in ("outbox_relay", "start_approval_workflow", "apply_workflow_message"):
        assert f'"handler": "{handler}"' in lines
