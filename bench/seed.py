"""Data the benchmarks need, made through the API as a user would: a tenant, a
developer with an API key, and models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalice.test import Client

PLATFORM_KEY = "cusp_bench-platform-key-0123456789"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    json: Any


class Http:
    """The app over chalice's in-process test client (no HTTP server involved)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        key: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request; the body, if any, is sent as JSON."""
        sent = {"Authorization": f"Bearer {key}", **(headers or {})}
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        answer = self.client.http.request(method, path, headers=sent, body=data)
        lowered = {k.lower(): str(v) for k, v in answer.headers.items()}
        return Answer(answer.status_code, lowered, json.loads(answer.body) if answer.body else None)


@dataclass(frozen=True)
class Seeded:
    tenant_id: str
    developer_id: str
    developer_key: str
    model_ids: tuple[str, ...]


def _created(answer: Answer, what: str) -> dict[str, Any]:
    if answer.status != 201:
        raise RuntimeError(f"seeding {what} answered {answer.status}: {answer.json}")
    return dict(answer.json)


def model_body(name: str) -> dict[str, Any]:
    """A valid ModelCreate body."""
    return {"name": name, "purpose": "Probability of default", "risk_tier": 2}


def seed(http: Http, models: int = 1) -> Seeded:
    """A tenant, a developer with a key, and `models` models registered by that developer."""
    tenant = _created(
        http.call(
            "POST",
            "/v1/tenants",
            PLATFORM_KEY,
            {"name": "Bench", "admin_name": "Bench admin", "admin_email": "admin@example.com"},
        ),
        "a tenant",
    )
    admin_key = tenant["api_key"]["secret"]
    developer = _created(
        http.call("POST", "/v1/principals", admin_key, {"name": "Dev", "roles": ["developer"]}),
        "a principal",
    )
    key = _created(
        http.call(
            "POST", "/v1/api-keys", admin_key, {"principal_id": developer["id"], "name": "bench"}
        ),
        "an API key",
    )
    model_ids = tuple(
        _created(
            http.call("POST", "/v1/models", key["secret"], model_body(f"Model {n}")), "a model"
        )["id"]
        for n in range(models)
    )
    return Seeded(tenant["tenant"]["id"], developer["id"], key["secret"], model_ids)
