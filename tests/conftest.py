"""Shared fixtures: moto as AWS, the declared resources, the app behind chalice's test client."""

from __future__ import annotations

import os

# moto before anything that builds a boto3 client (DESIGN: import moto before app).
from moto import mock_aws  # isort: skip

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from chalice.test import Client

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

PLATFORM_KEY = "cusp_test-platform-key-0123456789"


@pytest.fixture
def atomic_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make in-process moto apply one request at a time, as DynamoDB applies each operation
    atomically. moto alone lets two threads' TransactWriteItems interleave (it deep-copies
    a table another thread is writing). Our code still races between its calls."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def serialized(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto with every resource of infra/resources.py created; yields the app's env vars."""
    from chalicelib import bootstrap
    from infra.provision import provision

    with mock_aws():
        env = provision(boto3.session.Session(), "test", PLATFORM_KEY)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        yield env
        bootstrap.reset()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


class Api:
    """The app over chalice's in-process HTTP test client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if key:
            sent.setdefault("Authorization", f"Bearer {key}")
        data = raw.encode() if isinstance(raw, str) else raw
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        answer = self.client.http.request(method, path, headers=sent, body=data or b"")
        lowered = {k.lower(): v for k, v in answer.headers.items()}
        return Answer(answer.status_code, lowered, answer.body)

    def get(self, path: str, key: str | None = None, **kw: Any) -> Answer:
        return self.call("GET", path, key, **kw)

    def post(self, path: str, key: str | None, body: Any = None, **kw: Any) -> Answer:
        return self.call("POST", path, key, body, **kw)

    def patch(
        self, path: str, key: str | None, body: Any, etag: str | None = None, **kw: Any
    ) -> Answer:
        headers = dict(kw.pop("headers", None) or {})
        if etag is not None:
            headers["If-Match"] = etag
        return self.call("PATCH", path, key, body, headers=headers, **kw)

    def delete(self, path: str, key: str | None, **kw: Any) -> Answer:
        return self.call("DELETE", path, key, **kw)


@pytest.fixture
def api(aws: dict[str, str]) -> Iterator[Api]:
    from app import app

    with Client(app) as client:
        yield Api(client)


@dataclass
class Tenant:
    """A tenant made through the API, with a principal and key for every role."""

    id: str
    keys: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


PEOPLE = {
    "developer": ["developer"],
    "developer2": ["developer"],
    "validator": ["validator"],
    "validator2": ["validator"],
    "approver": ["approver"],
    "approver2": ["approver"],
    "auditor": ["auditor"],
    "monitor": ["monitor"],
}


def make_tenant(api: Api, name: str) -> Tenant:
    created = api.post(
        "/v1/tenants",
        PLATFORM_KEY,
        {"name": name, "admin_name": f"{name} admin", "admin_email": "admin@example.com"},
    )
    assert created.status == 201, created.json
    tenant = Tenant(created.json["tenant"]["id"])
    tenant.keys["admin"] = created.json["api_key"]["secret"]
    tenant.ids["admin"] = created.json["admin"]["id"]
    for person, roles in PEOPLE.items():
        principal = api.post(
            "/v1/principals", tenant.keys["admin"], {"name": f"{name} {person}", "roles": roles}
        )
        assert principal.status == 201, principal.json
        tenant.ids[person] = principal.json["id"]
        key = api.post(
            "/v1/api-keys",
            tenant.keys["admin"],
            {"principal_id": principal.json["id"], "name": person},
        )
        assert key.status == 201, key.json
        tenant.keys[person] = key.json["secret"]
    return tenant


@pytest.fixture
def tenant(api: Api) -> Tenant:
    return make_tenant(api, "Acme")


@pytest.fixture
def other_tenant(api: Api) -> Tenant:
    return make_tenant(api, "Globex")


def new_model(api: Api, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "Credit PD", "purpose": "Probability of default", "risk_tier": 2, **fields}
    answer = api.post("/v1/models", tenant.keys["developer"], body)
    assert answer.status == 201, answer.json
    return dict(answer.json)
