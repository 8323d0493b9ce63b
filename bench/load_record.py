"""What the load generator records: every HTTP request a load client sends, with its route.

`RecordingApi` wraps one keep-alive `HttpApi` and keeps a `Call` per request, so the
setup requests `Exerciser.prepare` makes are seen (and their answers, e.g. a created
tenant's admin key) as well as the operation under test. Routes are matched against the
app's declared operations, never a hand-kept list.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import requests

from chalicelib.api.http import Operation
from tests.harness.clients import Answer, ApiClient, HttpApi
from tests.harness.exercise import operations

WORLD, SETUP, MEASURED, DUPLICATE = "world", "setup", "measured", "duplicate"


class NoAnswer(Exception):
    """The request got no HTTP answer (client-side timeout or connection error)."""


class PastHardStop(Exception):
    """The run is over; no new request may start."""


@dataclass
class Call:
    """One HTTP request a load client sent, and what came back."""

    client: int
    phase: str  # WORLD, SETUP (made by prepare), MEASURED (the operation), DUPLICATE
    method: str
    path: str
    route: str  # "METHOD /template", or "METHOD ?" when no declared route matches
    tenant: str | None  # the load tenant the request was made for
    seconds: float
    status: int | None  # None: no answer
    error: str | None  # "timeout" or "connection: <exception>" when there was no answer
    request_id: str | None
    location: str | None
    replayed: bool
    idempotency_key: str | None
    body: Any = None  # the JSON answer of an acknowledged write
    retry_after: str | None = None
    problem: str | None = None  # an error answer's problem type
    unchanged: bool = False  # a conditional write answered with the ETag it was sent with

    @property
    def is_write(self) -> bool:
        return self.method != "GET"

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """A 503 as the API documents it: with Retry-After, to send the same request later."""
        return self.status == 503 and bool(self.retry_after)

    @property
    def outcome_unknown(self) -> bool:
        """A write's 503 saying it may or may not have been made (README: Errors)."""
        return self.retryable and (self.problem or "").endswith("/outcome-unknown")


class Routes:
    """Maps a concrete request path to the operation that declares it."""

    def __init__(self, ops: list[Operation] | None = None) -> None:
        self.ops = ops if ops is not None else operations()
        self._patterns = [
            (op, re.compile("^" + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", op.path) + "$"))
            for op in self.ops
        ]

    def match(self, method: str, path: str) -> Operation | None:
        """The operation `method path` reaches (query string ignored), or None."""
        bare = path.split("?", 1)[0]
        for op, pattern in self._patterns:
            if op.method == method and pattern.match(bare):
                return op
        return None

    def label(self, method: str, path: str) -> str:
        op = self.match(method, path)
        return f"{method} {op.path}" if op else f"{method} ?"


class RecordingApi(ApiClient):
    """An `HttpApi` that records every request; `phase` and `tenant` label the next ones."""

    def __init__(
        self, base_url: str, client: int, routes: Routes, timeout: float, hard_stop: float
    ) -> None:
        self.http = HttpApi(base_url, timeout=timeout)
        self.client = client
        self.routes = routes
        self.hard_stop = hard_stop
        self.phase = SETUP
        self.tenant: str | None = None
        self.calls: list[Call] = []

    def call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Answer:
        if time.monotonic() > self.hard_stop:
            raise PastHardStop(f"{method} {path}")
        started = time.perf_counter()
        try:
            answer = self.http.call(method, path, key, body, headers, raw)
        except requests.Timeout as exc:
            self._record(method, path, headers, started, None, "timeout")
            raise NoAnswer(f"{method} {path}: timed out") from exc
        except requests.RequestException as exc:
            error = f"connection: {type(exc).__name__}"
            self._record(method, path, headers, started, None, error)
            raise NoAnswer(f"{method} {path}: {error}") from exc
        self._record(method, path, headers, started, answer, None)
        return answer

    def _record(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None,
        started: float,
        answer: Answer | None,
        error: str | None,
    ) -> None:
        seconds = time.perf_counter() - started
        status = answer.status if answer else None
        acknowledged_write = status is not None and 200 <= status < 300 and method != "GET"
        failed = answer is not None and answer.status >= 400
        self.calls.append(
            Call(
                client=self.client,
                phase=self.phase,
                method=method,
                path=path,
                route=self.routes.label(method, path),
                tenant=self.tenant,
                seconds=seconds,
                status=status,
                error=error,
                request_id=answer.headers.get("x-request-id") if answer else None,
                location=answer.headers.get("location") if answer else None,
                replayed=bool(answer and answer.headers.get("idempotent-replayed") == "true"),
                idempotency_key=(headers or {}).get("Idempotency-Key"),
                body=_json(answer) if answer is not None and acknowledged_write else None,
                retry_after=answer.headers.get("retry-after") if answer else None,
                problem=_problem_type(answer) if answer is not None and failed else None,
                unchanged=_unchanged(headers, answer) if acknowledged_write else False,
            )
        )

    def close(self) -> None:
        self.http.close()


def _unchanged(headers: dict[str, str] | None, answer: Answer | None) -> bool:
    """Whether an acknowledged conditional write changed nothing: it answered the very
    revision its If-Match named (a patch or a policy equal to what is there writes nothing,
    so it is audited nowhere)."""
    sent = (headers or {}).get("If-Match")
    return bool(sent and answer is not None and answer.headers.get("etag") == sent)


def _json(answer: Answer) -> Any:
    try:
        return answer.json
    except ValueError:
        return None


def _problem_type(answer: Answer) -> str | None:
    body = _json(answer)
    return str(body["type"]) if isinstance(body, dict) and "type" in body else None


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))  # ceil
    return sorted_values[min(rank, len(sorted_values)) - 1]
