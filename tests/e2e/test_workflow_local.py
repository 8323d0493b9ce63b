"""Under `make run`, Step Functions executions really run: a submitted request's workflow
starts from the fan-out, its stage's task token comes back through the embedded moto
server, and the stage's outcome closes it, each step applied by the app's own consumers."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.harness.stack import LocalStack, start

PLATFORM_KEY = "cusp_e2e-workflow-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY)
    yield running
    running.stop()


@pytest.fixture
def as_the_stack(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process talking to the stack's AWS as another function of the stack would."""
    from chalicelib import bootstrap
    from infra.provision import names

    physical = names("custos-local")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{stack.moto_port}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "local")
    monkeypatch.setenv("CUSTOS_TABLE", physical["Main"])
    bootstrap.reset()
    yield
    bootstrap.reset()


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
    events = get(stack, "/v1/audit-events?limit=100&from_seq=1", stack.key("auditor"))
    return [e["action"] for e in events["items"]]


def eventually(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not reached within {seconds} s")


@pytest.mark.usefixtures("as_the_stack")
def test_a_request_runs_through_the_stacks_own_state_machine(stack: LocalStack) -> None:
    from chalicelib.domain.actors import Actor
    from chalicelib.domain.approvals import ApprovalStage, Outcome
    from chalicelib.domain.roles import Role
    from chalicelib.services import workflow

    tenant = re.search(r"Demo tenant (ten_\w+)", stack.banner)
    assert tenant is not None and os.environ["AWS_ENDPOINT_URL"]
    developer, validator = stack.key("developer"), stack.key("validator")
    model = post(stack, "/v1/models", developer, {"name": "E2E", "purpose": "p", "risk_tier": 3})
    post(stack, f"/v1/models/{model['id']}/versions", developer, {})
    me = get(stack, "/v1/me", developer)
    submitter = Actor.of_principal(
        "e2e", tenant.group(1), me["principal_id"], me["key_id"], frozenset({Role.DEVELOPER})
    )
    stage = ApprovalStage(
        index=0, name="validation", role=Role.VALIDATOR, quorum=1, timeout_seconds=120
    )
    request = workflow.submit(submitter, model["id"], 1, [stage])
    # THEN the stack's dispatcher relays it, its consumer starts the execution, and the
    # state machine's message opens the stage
    eventually(lambda: "approval.stage_opened" in actions(stack))
    judge = get(stack, "/v1/me", validator)
    deciding = Actor.of_principal(
        "e2e", tenant.group(1), judge["principal_id"], judge["key_id"], frozenset({Role.VALIDATOR})
    )
    assert workflow.complete_stage(deciding, request.id, 0, Outcome.APPROVE)
    eventually(lambda: "approval.decided" in actions(stack))
    verified = get(stack, "/v1/audit/verify?full=true", stack.key("auditor"))
    assert verified["valid"]
    # AND each consumer batch left its JSON line on the stack's stdout
    lines = "".join(stack.output)
    for handler in ("outbox_relay", "start_approval_workflow", "apply_workflow_message"):
        assert f'"handler": "{handler}"' in lines
