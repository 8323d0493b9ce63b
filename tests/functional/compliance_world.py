"""Compliance scans under in-process moto: versions approved through the app's own
workflow consumer (the state machine's messages handed to it, as Lambda would: moto does
not execute the machine here), deployed over the API, scanned by the real consumer fed by
the relay and the fan-out (infra.dispatch), under a clock the test moves."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.conftest import Api, Tenant, confirm_tier, new_model
from tests.harness.machinery import FakeClock, drain
from tests.harness.uploads import artifact_body, put

CARD = {"intended_use": "Retail credit decisions", "metrics": "AUC 0.81 on the 2025 holdout"}
WORKFLOW = "apply_workflow_message"


class Compliance:
    """A tenant's team, judges and validators, the scan machinery, and one clock."""

    def __init__(self, api: Api, tenant: Tenant, env: dict[str, str], clock: FakeClock) -> None:
        from app import app
        from infra.dispatch import Dispatcher

        self.api, self.tenant, self.clock, self.env = api, tenant, clock, env
        self.dispatcher = Dispatcher(app, boto3.session.Session(), env, clock=clock)

    def key(self, role: str) -> str:
        return self.tenant.keys[role]

    # --- arranging ---------------------------------------------------------------------

    def approved(
        self,
        content: bytes | None = b"weights v1",
        approval_expires_at: str | None = None,
        **model: Any,
    ) -> dict[str, Any]:
        """A new tier-3 model (confirmed) whose version 1, with a complete model card and
        `content` as artifact model.bin, went through its one-stage approval."""
        found = new_model(self.api, self.tenant, risk_tier=3, **model)
        confirm_tier(self.api, self.tenant, found)
        versions = f"/v1/models/{found['id']}/versions"
        dev = self.key("developer")
        assert self.api.post(versions, dev, {"model_card": CARD}).status == 201
        if content is not None:
            made = self.api.post(f"{versions}/1/artifacts", dev, artifact_body(content))
            assert made.status == 201, made.json
            put(made.json["upload"], content)
            done = self.api.post(f"{versions}/1/artifacts/model.bin/complete", dev)
            assert done.status == 200, done.json
        submitted = self.api.post(f"{versions}/1/approval-requests", dev, {"kind": "approval"})
        assert submitted.status == 201, submitted.json
        request_id = submitted.json["id"]
        self.workflow(request_id, kind="stage.opened", stage=0, task_token=f"t-{uuid.uuid4()}")
        decision: dict[str, Any] = {"outcome": "approve"}
        if approval_expires_at:
            decision["approval_expires_at"] = approval_expires_at
        path = f"/v1/approval-requests/{request_id}/decisions"
        decided = self.api.post(path, self.key("approver"), decision)
        assert decided.status == 201, decided.json
        self.workflow(request_id, kind="request.decided", outcome="approve")
        version = self.api.get(f"{versions}/1", self.key("auditor")).json
        assert version["status"] == "approved", version
        return {"model": found, "path": f"{versions}/1", "request_id": request_id}

    def workflow(self, request_id: str, **message: Any) -> None:
        """Hand the app's workflow consumer a message the state machine would send."""
        from app import app
        from infra.dispatch import function_handler
        from infra.lambda_context import LambdaContext, function_arn

        body = {"tenant_id": self.tenant.id, "request_id": request_id, **message}
        message_id = str(uuid.uuid4())
        record = {
            "messageId": message_id,
            "body": json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1"},
        }
        arn = function_arn("us-east-1", "123456789012", WORKFLOW)
        context = LambdaContext.for_invocation(WORKFLOW, arn, 60, message_id)
        result = function_handler(app, WORKFLOW)({"Records": [record]}, context)
        assert not result.get("batchItemFailures"), (message, result)

    def deploy(self, version_path: str, target: str = "k8s://prod/pd") -> dict[str, Any]:
        body = {"environment": "production", "target": target}
        answer = self.api.post(f"{version_path}/deployments", self.key("developer"), body)
        assert answer.status == 201, answer.json
        return dict(answer.json)

    def overwrite_artifact(self, model_id: str, content: bytes) -> None:
        """Someone with bucket access replaces the approved object behind Custos's back."""
        s3 = boto3.client("s3")
        key = f"tenants/{self.tenant.id}/models/{model_id}/versions/000001/artifacts/model.bin"
        s3.put_object(Bucket=self.env["CUSTOS_BUCKET"], Key=key, Body=content)

    def report(self, version_path: str, *points: tuple[str, float]) -> None:
        """A monitor reports data points observed now (the clock's now)."""
        at = self.clock.now.isoformat()
        body = {"points": [{"name": n, "value": v, "observed_at": at} for n, v in points]}
        answer = self.api.post(f"{version_path}/metrics", self.key("monitor"), body)
        assert answer.status == 200, answer.json

    def set_policy(self, **fields: Any) -> None:
        admin = self.key("admin")
        current = self.api.get("/v1/policy", admin)
        body = {
            k: v
            for k, v in current.json.items()
            if k not in ("version", "created_by", "created_at")
        }
        answer = self.api.call(
            "PUT", "/v1/policy", admin, {**body, **fields}, {"If-Match": current.headers["etag"]}
        )
        assert answer.status == 200, answer.json

    # --- acting ------------------------------------------------------------------------

    def drain(self) -> None:
        drain(self.dispatcher)

    def scan(self, role: str = "validator") -> dict[str, Any]:
        """Ask for a scan over the API, let the relay, fan-out and consumer run it, and
        answer the scan as GET shows it."""
        self.drain()  # whatever the arranging left in the outbox goes first
        self.clock.advance(minutes=1)  # time moves between scans, as it does
        asked = self.api.post("/v1/compliance-scans", self.key(role), {})
        assert asked.status == 202, asked.json
        self.drain()
        answer = self.api.get(asked.headers["location"], self.key("auditor"))
        assert answer.status == 200, answer.json
        return dict(answer.json)

    def findings(self, **query: str) -> list[dict[str, Any]]:
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        answer = self.api.get(
            "/v1/findings" + (f"?{suffix}" if suffix else ""), self.key("auditor")
        )
        assert answer.status == 200, answer.json
        items: list[dict[str, Any]] = answer.json["items"]
        return items

    def rules_open(self, model_id: str) -> set[str]:
        return {f["rule"] for f in self.findings(model_id=model_id, status="open")}

    def audit_actions(self) -> list[str]:
        from tests.functional.route_fixtures import items_of

        return [e["action"] for e in items_of(self.api, "/v1/audit-events", self.key("auditor"))]


@pytest.fixture
def compliance(
    api: Api, judges: Tenant, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Compliance]:
    from chalicelib import clock

    fake = FakeClock()
    clock.set_clock(fake)
    try:
        yield Compliance(api, judges, aws, fake)
    finally:
        clock.reset()
