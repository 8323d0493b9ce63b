"""One client interface over the app, in process (chalice's test client) or over HTTP.

Tests, benchmarks, the fuzzer and the load generator speak to the API through
`call(method, path, key, body, headers)`, so the same scenario runs against
either transport.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import requests
from chalice.test import Client


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def _request_parts(
    key: str | None, body: Any, headers: dict[str, str] | None, raw: bytes | str | None
) -> tuple[dict[str, str], bytes]:
    sent = dict(headers or {})
    if key:
        sent.setdefault("Authorization", f"Bearer {key}")
    data = raw.encode() if isinstance(raw, str) else (raw or b"")
    if body is not None:
        data = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    return sent, data


class ApiClient(ABC):
    """The verbs over `call`, which each transport implements."""

    @abstractmethod
    def call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Answer:
        """One request; `body` is sent as JSON, `raw` as it is."""

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


class Api(ApiClient):
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
        sent, data = _request_parts(key, body, headers, raw)
        answer = self.client.http.request(method, path, headers=sent, body=data)
        lowered = {k.lower(): str(v) for k, v in answer.headers.items()}
        return Answer(answer.status_code, lowered, answer.body)


class HttpApi(ApiClient):
    """A running server over real HTTP, one keep-alive connection per instance."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Answer:
        sent, data = _request_parts(key, body, headers, raw)
        answer = self.session.request(
            method, self.base_url + path, headers=sent, data=data or None, timeout=self.timeout
        )
        lowered = {k.lower(): v for k, v in answer.headers.items()}
        return Answer(answer.status_code, lowered, answer.content)

    def close(self) -> None:
        self.session.close()
