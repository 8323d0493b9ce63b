"""What the artifact tests share: small thresholds, a draft version, the audit trail, the
local dispatcher and the verifier's messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.conftest import Api, Tenant, new_model
from tests.harness.uploads import artifact_body

MIB = 2**20
LARGE = bytes(range(256)) * (11 * MIB // 256)  # 11 MiB: three parts of 5, 5 and 1 MiB
SMALLISH = b"x" * 4096  # above the 1 KiB sync threshold, below multipart's 6 MiB
CONTENT = b"weights of a small model, 48 bytes long........"
OTHER = b"weights of a different model, of another length"


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Thresholds small enough for tests: verified in the call up to 1 KiB, multipart above
    6 MiB in 5 MiB parts, at most 20 MiB."""
    from chalicelib.config import settings

    for name, value in {
        "CUSTOS_ARTIFACT_SYNC_VERIFY_BYTES": "1024",
        "CUSTOS_ARTIFACT_MULTIPART_BYTES": str(6 * 2**20),
        "CUSTOS_ARTIFACT_PART_BYTES": str(5 * 2**20),
        "CUSTOS_ARTIFACT_MAX_BYTES": str(20 * 2**20),
    }.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    yield
    settings.cache_clear()


def new_version(api: Api, tenant: Tenant) -> str:
    """A draft version 1 of a new model of the tenant's developer; its path."""
    model = new_model(api, tenant)
    answer = api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
    assert answer.status == 201, answer.json
    return f"/v1/models/{model['id']}/versions/1"


def register(api: Api, tenant: Tenant, version: str, content: bytes, **fields: Any) -> Any:
    answer = api.post(
        f"{version}/artifacts", tenant.keys["developer"], artifact_body(content, **fields)
    )
    assert answer.status == 201, answer.json
    return answer.json


def audit_actions(api: Api, tenant: Tenant) -> list[str]:
    answer = api.get("/v1/audit-events?limit=100", tenant.keys["auditor"])
    assert answer.status == 200, answer.json
    # (reading the trail is audited too: its audit.read entries are left out here)
    return [e["action"] for e in answer.json["items"] if e["action"] != "audit.read"]


@pytest.fixture
def dispatcher(aws: dict[str, str]) -> Any:
    """The local dispatcher over this test's moto: the relay, then every queue consumer."""
    from app import app
    from infra.dispatch import Dispatcher

    return Dispatcher(app, boto3.session.Session(), aws)


def drain(dispatcher: Any) -> None:
    """Pump until nothing moves (the relay publishes, then the consumer reads its queue)."""
    for _ in range(10):
        if not dispatcher.pump_all():
            return
    raise AssertionError("the dispatcher kept finding work")


def verification_messages(aws: dict[str, str]) -> list[dict[str, Any]]:
    """The verification requests waiting on the verifier's queue (left there)."""
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(
        QueueUrl=aws["CUSTOS_ARTIFACT_VERIFICATIONS_QUEUE_URL"],
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
    )
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def invoke_verifier(envelope: dict[str, Any]) -> dict[str, Any]:
    from app import app

    record = {"messageId": "redelivered", "body": json.dumps(envelope), "attributes": {}}
    answer: dict[str, Any] = app.handler_map["verify_artifact"]({"Records": [record]}, None)
    return answer
