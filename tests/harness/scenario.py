"""Run the system end to end under executing moto, so that every entry point no HTTP
request starts is handed real inputs (captured by `tests.harness.consumers.Capture`).

A tenant is made through the API; an artifact is registered, uploaded and completed above
the threshold for verifying in the call, so the verifier consumer checks it; two model
versions are submitted for approval through the API, and the local dispatcher
(infra/dispatch.py) drives the outbox relay, the queue consumers and the schedules as
Lambda would, while moto's Step Functions executes the approval workflow. The first
request is approved by its approver; the second is rejected, its SendTaskSuccess lost on
the way, so the callback reconciler has one to answer when the schedules fire. Stages wait
the policy's default week, so none escalates while fault cases replay what was captured.
An auditor requests an inventory export and an audit export (the chain zipped with its
anchors read back), which the exporter consumer writes.

An entry point this does not reach gets no input, and the fault tests' coverage test
names it: reaching it means adding what triggers it here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tests.harness.clients import ApiClient
from tests.harness.world import Tenant, confirm_tier, make_tenant

PEOPLE = {
    "developer": ["developer"],
    "validator": ["validator"],  # confirms the models' tiers
    "approver": ["approver"],
    "auditor": ["auditor"],
}
LOST_CALLBACK_AGE = timedelta(minutes=10)  # older than the reconciler's grace
SYNC_VERIFY = "CUSTOS_ARTIFACT_SYNC_VERIFY_BYTES"
LOOPBACK = "CUSTOS_WEBHOOKS_ALLOW_LOOPBACK"


def until(condition: Callable[[], Any], pump: Callable[[], int], seconds: float = 30) -> Any:
    """Pump until `condition()` is truthy (bounded); returns its value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pump()
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not reached within {seconds} s")


class Scenario:
    """The approval workflow, run once; see the module docstring."""

    def __init__(self, api: ApiClient, platform_key: str, env: dict[str, str]) -> None:
        from app import app
        from infra.dispatch import Dispatcher

        self.api = api
        self.tenant: Tenant = make_tenant(
            api, "Acme", platform_key, PEOPLE, own_keys_for=("validator", "approver")
        )
        self.now = datetime.now(UTC)
        self.dispatcher = Dispatcher(app, boto3.session.Session(), env, clock=lambda: self.now)

    def run(self) -> Tenant:
        self._webhook_delivered()
        self._artifact_verified_by_the_consumer()
        self._export_written()
        first = self._submitted("Credit PD")
        until(lambda: self._status(first) == "in_review", self._pump)
        self._decide(first, "approve")
        until(lambda: self._status(first) == "approved", self._pump)
        second = self._submitted("Churn")
        until(lambda: self._status(second) == "in_review", self._pump)
        self._lose_callback(second, "reject")
        self._fire_schedules()
        until(lambda: self._status(second) == "rejected", self._pump)
        self._pump()  # the last events relayed
        return self.tenant

    def _pump(self) -> int:
        return self.dispatcher.pump_all()

    def _fire_schedules(self) -> None:
        """Every schedule, once: the dispatcher's clock moves past all their times."""
        self.now += timedelta(days=2)
        fired = self.dispatcher.run_due_schedules(self.now)
        assert sorted(fired) == sorted(t.function for t in self.dispatcher.timers), fired

    def _submitted(self, name: str) -> str:
        """A tier-3 model's version (one approval stage), submitted through the API."""
        key = self.tenant.keys["developer"]
        body = {"name": name, "purpose": "scenario", "risk_tier": 3}
        model = self.api.post("/v1/models", key, body)
        assert model.status == 201, model.json
        confirm_tier(self.api, self.tenant, model.json)  # else the policy applies tier 1's
        path = f"/v1/models/{model.json['id']}/versions"
        version = self.api.post(path, key, {"model_card": {"intended_use": "scenario"}})
        assert version.status == 201, version.json
        request = self.api.post(f"{path}/1/approval-requests", key, {"kind": "approval"})
        assert request.status == 201, request.json
        return str(request.json["id"])

    def _webhook_delivered(self) -> None:
        """A subscription's test events, fanned out and delivered to a receiver on 127.0.0.1
        (loopback receivers allowed for the while, as the local-development setting does):
        the first answered slowly, so the second goes by the slow lane."""
        from chalicelib.config import settings
        from tests.harness.receiver import Answer, receiving

        admin = self.tenant.keys["admin"]
        saved = os.environ.get(LOOPBACK)
        os.environ[LOOPBACK] = "true"
        settings.cache_clear()
        try:
            with receiving([Answer(200, delay=1.1)]) as receiver:
                body = {"url": receiver.url(), "events": ["webhook.test"]}
                hook = self.api.post("/v1/webhooks", admin, body)
                assert hook.status == 201, hook.json
                for count in (1, 2):
                    self._test_event(hook.json["id"], receiver, count)
        finally:
            if saved is None:
                os.environ.pop(LOOPBACK, None)
            else:
                os.environ[LOOPBACK] = saved
            settings.cache_clear()

    def _test_event(self, webhook_id: str, receiver: Any, count: int) -> None:
        queued = self.api.post(f"/v1/webhooks/{webhook_id}/test", self.tenant.keys["admin"])
        assert queued.status == 202, queued.json
        until(lambda: len(receiver.received) >= count, self._pump)

    def _artifact_verified_by_the_consumer(self) -> None:
        """An artifact above the sync-verification threshold: `complete` answers 202 and
        the verifier consumer, fed through the fan-out topic, verifies it."""
        from chalicelib.config import settings
        from tests.harness.uploads import artifact_body, put

        key = self.tenant.keys["developer"]
        body = {"name": "Scored", "purpose": "scenario", "risk_tier": 3}
        model = self.api.post("/v1/models", key, body)
        assert model.status == 201, model.json
        path = f"/v1/models/{model.json['id']}/versions"
        assert self.api.post(path, key, {}).status == 201
        content = b"scenario artifact " * 256  # 4.5 KB, above the threshold set below
        saved = os.environ.get(SYNC_VERIFY)
        os.environ[SYNC_VERIFY] = "1024"
        settings.cache_clear()
        try:
            registered = self.api.post(f"{path}/1/artifacts", key, artifact_body(content))
            assert registered.status == 201, registered.json
            put(registered.json["upload"], content)
            done = self.api.post(f"{path}/1/artifacts/model.bin/complete", key)
            assert done.status == 202, done.json
        finally:
            if saved is None:
                os.environ.pop(SYNC_VERIFY, None)
            else:
                os.environ[SYNC_VERIFY] = saved
            settings.cache_clear()
        auditor = self.tenant.keys["auditor"]
        until(
            lambda: (
                self.api.get(f"{path}/1/artifacts/model.bin", auditor).json["status"] == "verified"
            ),
            self._pump,
        )

    def _export_written(self) -> None:
        """An inventory export and an audit export, requested through the API and written
        by the exporter, which the fan-out hands `export.requested`."""
        auditor = self.tenant.keys["auditor"]
        for body in ({"kind": "inventory", "format": "csv"}, {"kind": "audit", "format": "zip"}):
            requested = self.api.post("/v1/exports", auditor, body)
            assert requested.status == 202, requested.json
            location = f"/v1/exports/{requested.json['id']}"

            def completed(at: str = location) -> bool:
                return bool(self.api.get(at, auditor).json["status"] == "completed")

            until(completed, self._pump)

    def _decide(self, request_id: str, outcome: str) -> None:
        body = {"outcome": outcome, "comment": "scenario"}
        path = f"/v1/approval-requests/{request_id}/decisions"
        answer = self.api.post(path, self.tenant.keys["approver"], body)
        assert answer.status == 201, answer.json

    def _lose_callback(self, request_id: str, outcome: str) -> None:
        """The stage decided through the API, its SendTaskSuccess lost on the way (the
        callback stays owed), and owed for longer than the reconciler's grace."""
        from botocore.exceptions import EndpointConnectionError

        from chalicelib.bootstrap import client
        from chalicelib.store.scope import for_tenant

        def lost(**_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="https://states.example")

        hooks = client("stepfunctions").meta.events
        hooks.register_first("before-call.sfn.SendTaskSuccess", lost, unique_id="lost")
        try:
            self._decide(request_id, outcome)
        finally:
            hooks.unregister("before-call.sfn.SendTaskSuccess", unique_id="lost")
        at = datetime.now(UTC) - LOST_CALLBACK_AGE
        stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for_tenant(self.tenant.id).operational.owe_callback(request_id, 0, outcome, stamp)

    def _status(self, request_id: str) -> str:
        from chalicelib.store.scope import for_tenant

        item = for_tenant(self.tenant.id).approvals.get(request_id)
        return str(item["status"]) if item else "missing"
