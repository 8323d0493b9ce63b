"""Webhooks under in-process moto, with real receivers on 127.0.0.1 and a clock moved by
hand: the relay and the consumers driven as Lambda would (infra.dispatch), the sweeper
invoked as its schedule would, so the whole retry schedule (three days) runs in seconds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.conftest import Api, Tenant
from tests.harness.machinery import FakeClock, drain

SWEEPER = "sweep_webhook_deliveries"


class Hooks:
    """The tenant's admin subscribing, and the machinery delivering, under one clock."""

    def __init__(self, api: Api, tenant: Tenant, env: dict[str, str], clock: FakeClock) -> None:
        from app import app
        from infra.dispatch import Dispatcher, function_handler

        self.api, self.tenant, self.clock = api, tenant, clock
        self.admin = tenant.keys["admin"]
        self.dispatcher = Dispatcher(app, boto3.session.Session(), env, clock=clock)
        self._sweeper = function_handler(app, SWEEPER)

    def subscribe(self, url: str, events: list[str] | None = None, **fields: Any) -> dict[str, Any]:
        body = {"url": url, "events": events or ["*"], **fields}
        answer = self.api.post("/v1/webhooks", self.admin, body)
        assert answer.status == 201, answer.json
        return answer.json

    def drain(self) -> int:
        """Pump the relay and every queue until nothing moves; returns what was handed on."""
        return drain(self.dispatcher)

    def sweep(self) -> dict[str, int]:
        """Run the sweeper once, at the clock's time, then deliver what it queued."""
        from infra.lambda_context import LambdaContext
        from infra.schedules import scheduled_event

        context = LambdaContext.for_invocation(SWEEPER, "arn:local", 60, str(uuid.uuid4()))
        result: dict[str, int] = self._sweeper(scheduled_event(SWEEPER, self.clock.now), context)
        self.drain()
        return result

    def run_schedule(self, seconds: float, step: float = 60.0) -> None:
        """Move the clock `seconds` ahead, a sweep every `step` seconds on the way."""
        moved = 0.0
        while moved < seconds:
            delta = min(step, seconds - moved)
            self.clock.advance(delta)
            moved += delta
            self.sweep()

    def deliveries(self, webhook_id: str, **query: str) -> list[dict[str, Any]]:
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        path = f"/v1/webhooks/{webhook_id}/deliveries" + (f"?{suffix}" if suffix else "")
        answer = self.api.get(path, self.tenant.keys["auditor"])
        assert answer.status == 200, answer.json
        items: list[dict[str, Any]] = answer.json["items"]
        return items

    def webhook(self, webhook_id: str) -> dict[str, Any]:
        answer = self.api.get(f"/v1/webhooks/{webhook_id}", self.admin)
        assert answer.status == 200, answer.json
        found: dict[str, Any] = answer.json
        return found


@pytest.fixture
def hooks(
    api: Api, tenant: Tenant, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hooks]:
    """Webhooks with loopback receivers allowed (the local-development setting), every
    retry left to the sweeper (no SQS delays), and a clock the test moves."""
    from chalicelib import bootstrap, clock

    monkeypatch.setenv("CUSTOS_WEBHOOKS_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("CUSTOS_WEBHOOKS_QUEUE_DELAY_MAX_SECONDS", "0")
    monkeypatch.setenv("CUSTOS_WEBHOOKS_TIMEOUT_SECONDS", "2")
    bootstrap.reset()
    fake = FakeClock()
    clock.set_clock(fake)
    try:
        yield Hooks(api, tenant, aws, fake)
    finally:
        clock.reset()
