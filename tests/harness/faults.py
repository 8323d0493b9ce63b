"""Fault injection at every AWS call the app makes, under in-process moto.

moto answers every botocore request from one `before-send` handler,
`BotocoreStubber.__call__`, shared by all clients. `Faults.install` wraps it, so
for every HTTP attempt it sees

- the event name `before-send.<service>.<Operation>`: which call this is;
- the header `amz-sdk-invocation-id`, the same for every retry of one client
  call, so logical calls are told apart from botocore's own retries;

and it decides whether moto runs at all: a fault answers before moto applies the
request (nothing changed) or after it (applied, then the answer is lost).

A `Site` names a logical call within one API request: the n-th call of an
operation (`dynamodb.GetItem#1`). Occurrences are counted per request
(`new_request()`); which calls a request makes depends on how warm the app's
caches are, so sites are recorded and injected under the same warmth.

Only calls made on the thread that built the `Faults` are seen (with `thread` given, on
that one): moto's Step Functions runs executions on threads of its own, whose calls (a
state sending its message) are AWS's, not the app's, so they pass straight to moto.

Three things the real services do that this keeps true without real waiting:

- botocore's retry backoff is recorded, not slept (`delays`);
- the writer's own contention backoff likewise (`writer_sleeps`);
- DynamoDB's TransactWriteItems idempotency: a retry with the same
  ClientRequestToken and parameters returns the first success, other parameters
  are an IdempotentParameterMismatchException. moto 5 ignores the token; without
  this, a retry after a lost answer would read as a condition failure (a 409 for
  a change that committed).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.retries import quota, standard
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

from tests.harness import aws_wire
from tests.harness.aws_wire import Wire
from tests.harness.clients import Answer, ApiClient

Apply = Callable[[AWSPreparedRequest], AWSResponse]
_READ_PREFIXES = ("Get", "BatchGet", "Query", "Scan", "Describe", "List", "Head", "Receive")


@dataclass(frozen=True)
class Site:
    """The n-th call (from 0) of `service`'s `operation` within one API request."""

    service: str  # botocore's service id without dashes: dynamodb, secretsmanager, sqs
    operation: str
    n: int = 0

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}#{self.n}"

    @property
    def writes(self) -> bool:
        """Whether the call changes state (so its answer can be lost after it applied)."""
        return not self.operation.startswith(_READ_PREFIXES)


@dataclass(frozen=True)
class Call:
    """A logical call as recorded: where it happened, and what it asked for with ids,
    hashes, numbers and times masked (`what`), so the same call made under other cache
    warmth, or in another run, is recognised."""

    site: Site
    what: str
    asked: bytes = field(default=b"", compare=False, repr=False)  # the request body as sent


_VOLATILE = [
    (re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), b"<uuid>"),
    (re.compile(rb"[a-z]{2,5}_[0-9A-HJKMNP-TV-Z]{26}"), b"<id>"),
    (re.compile(rb"[0-9a-fA-F]{32,}"), b"<hash>"),
    # base64 blobs: a KMS plaintext or ciphertext (a fresh secret each run), a signature
    (re.compile(rb"[A-Za-z0-9+/]{40,}={0,2}"), b"<blob>"),
    (re.compile(rb"\d+"), b"<n>"),
]


def _what(service: str, operation: str, request: AWSPreparedRequest) -> str:
    asked = urlsplit(request.url).path.encode() + b" " + _masked_binary(_body(request))
    for pattern, replacement in _VOLATILE:
        asked = pattern.sub(replacement, asked)
    return f"{service}.{operation} {asked.decode(errors='replace')}"


@dataclass(frozen=True)
class Kind:
    """A way for a call to fail: `fail` answers (or raises) in moto's place."""

    name: str
    fail: Callable[[Site, AWSPreparedRequest, Apply], AWSResponse]
    applies: Callable[[Site], bool]

    def __str__(self) -> str:
        return self.name


def _answer(request: AWSPreparedRequest, wire: Wire) -> AWSResponse:
    status, headers, body = wire
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


def _masked_binary(body: bytes) -> bytes:
    """A body that is not text (a part of an export's zip archive, whose compressed bytes
    change with every time written in it) as one placeholder: only its call identifies it."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return b"<binary>"
    return body


def _body(request: AWSPreparedRequest) -> bytes:
    body: Any = request.body or b""
    if hasattr(body, "read"):  # a streamed body (an UploadPart's, an anchor's): read, rewind
        data = body.read()
        body.seek(0)
        return data.encode() if isinstance(data, str) else bytes(data)
    return body.encode() if isinstance(body, str) else bytes(body)


def error_kind(
    name: str, wire: Callable[[str, bytes], Wire], applies: Callable[[Site], bool]
) -> Kind:
    """A kind that answers the service's error before moto applies anything."""

    def fail(site: Site, request: AWSPreparedRequest, apply: Apply) -> AWSResponse:
        return _answer(request, wire(site.service, _body(request)))

    return Kind(name, fail, applies)


def connection_refused(site: Site, request: AWSPreparedRequest, apply: Apply) -> AWSResponse:
    """The endpoint could not be reached: the request never left."""
    raise EndpointConnectionError(endpoint_url=request.url)


def lost_response(site: Site, request: AWSPreparedRequest, apply: Apply) -> AWSResponse:
    """The request applied, then the connection timed out before the answer arrived."""
    apply(request)
    raise ReadTimeoutError(endpoint_url=request.url)


def started_elsewhere(site: Site, request: AWSPreparedRequest, apply: Apply) -> AWSResponse:
    """StartExecution applied, then answered ExecutionAlreadyExists: what a retry gets on
    AWS when the first attempt's answer was lost and that execution has closed since."""
    apply(request)
    return _answer(request, aws_wire.execution_already_exists(site.service, _body(request)))


def partial_batch(site: Site, request: AWSPreparedRequest, apply: Apply) -> AWSResponse:
    """SendMessageBatch accepting all but its last entry (which it reports as Failed)."""
    params = json.loads(_body(request))
    entries = params["Entries"]
    refused = entries[-1]
    answer: dict[str, Any] = {"Successful": []}
    if len(entries) > 1:
        kept = json.dumps({**params, "Entries": entries[:-1]}).encode()
        headers = {**dict(request.headers.items()), "Content-Length": str(len(kept))}
        shortened = AWSPreparedRequest(
            request.method, request.url, headers, kept, request.stream_output
        )
        answer = json.loads(apply(shortened).content)
    answer["Failed"] = [
        {"Id": refused["Id"], "SenderFault": False, "Code": "InternalError", "Message": "retry"}
    ]
    body = json.dumps(answer).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(body))}
    return _answer(request, (200, headers, body))


_SNS_ENTRY = re.compile(r"^PublishBatchRequestEntries\.member\.(\d+)\.")


def partial_publish(site: Site, request: AWSPreparedRequest, apply: Apply) -> AWSResponse:
    """SNS PublishBatch accepting all but its last entry (which it reports as Failed)."""
    params = parse_qsl(_body(request).decode(), keep_blank_values=True)
    members = sorted({int(m.group(1)) for k, _ in params if (m := _SNS_ENTRY.match(k))})
    prefix = f"PublishBatchRequestEntries.member.{members[-1]}."
    refused = dict(params)[prefix + "Id"]
    successful = ""
    if len(members) > 1:
        kept = urlencode([(k, v) for k, v in params if not k.startswith(prefix)]).encode()
        headers = {**dict(request.headers.items()), "Content-Length": str(len(kept))}
        shortened = AWSPreparedRequest(
            request.method, request.url, headers, kept, request.stream_output
        )
        answer = apply(shortened).content.decode()
        ids = re.findall(r"<Id>([^<]*)</Id>\s*<MessageId>([^<]*)</MessageId>", answer)
        ids += [
            (i, m)
            for m, i in re.findall(r"<MessageId>([^<]*)</MessageId>\s*<Id>([^<]*)</Id>", answer)
        ]
        successful = "".join(
            f"<member><Id>{i}</Id><MessageId>{m}</MessageId></member>" for i, m in ids
        )
    body = (
        '<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<PublishBatchResult><Successful>{successful}</Successful><Failed><member>"
        f"<Id>{refused}</Id><Code>InternalError</Code><Message>retry</Message>"
        "<SenderFault>false</SenderFault></member></Failed></PublishBatchResult>"
        "<ResponseMetadata><RequestId>partial</RequestId></ResponseMetadata>"
        "</PublishBatchResponse>"
    ).encode()
    headers = {"Content-Type": "text/xml", "Content-Length": str(len(body))}
    return _answer(request, (200, headers, body))


def _everywhere(site: Site) -> bool:
    return True


def _on(service: str, *operations: str) -> Callable[[Site], bool]:
    def applies(site: Site) -> bool:
        return site.service == service and (not operations or site.operation in operations)

    return applies


def _writes(site: Site) -> bool:
    return site.writes


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        error_kind("throttling", aws_wire.throttling, _everywhere),
        error_kind("throughput", aws_wire.throughput_exceeded, _on("dynamodb")),
        error_kind(
            "conflict", aws_wire.transaction_conflict, _on("dynamodb", "TransactWriteItems")
        ),
        error_kind("internal", aws_wire.internal_error, _everywhere),
        Kind("connection", connection_refused, _everywhere),
        Kind("lost-response", lost_response, _writes),
        Kind("partial-batch", partial_batch, _on("sqs", "SendMessageBatch")),
        Kind("partial-publish", partial_publish, _on("sns", "PublishBatch")),
        Kind("already-exists", started_elsewhere, _on("sfn", "StartExecution")),
    )
}


@dataclass
class Fault:
    """`kind` at `site` and at every later call of the same operation in the request, for
    `times` attempts (None: for good). Later calls count because a dependency that fails
    stays failed, and because the writer re-issues a conflicted transaction as a new call."""

    site: Site
    kind: Kind
    times: int | None
    hits: int = 0

    def matches(self, site: Site) -> bool:
        same = (site.service, site.operation) == (self.site.service, self.site.operation)
        return same and site.n >= self.site.n

    def take(self) -> bool:
        """Count one failed attempt, if this fault still has one to give."""
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


class TransactionTokens:
    """DynamoDB's ClientRequestToken idempotency for TransactWriteItems (10 minutes on AWS;
    a test run is shorter, so tokens are kept for the life of this object)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, Wire]] = {}

    def apply(self, site: Site, request: AWSPreparedRequest, moto: Apply) -> AWSResponse:
        token = self._token(site, request)
        if token is None:
            return moto(request)
        name, digest = token
        if name in self._seen:
            first_digest, first = self._seen[name]
            replay = first if first_digest == digest else aws_wire.idempotent_parameter_mismatch()
            status, headers, body = replay
            return _answer(
                request, (status, {**headers, "x-amzn-RequestId": aws_wire.request_id()}, body)
            )
        response = moto(request)
        if response.status_code == 200:
            self._seen[name] = (digest, (200, dict(response.headers.items()), response.content))
        return response

    @staticmethod
    def _token(site: Site, request: AWSPreparedRequest) -> tuple[str, str] | None:
        if (site.service, site.operation) != ("dynamodb", "TransactWriteItems"):
            return None
        params = json.loads(_body(request))
        token = params.pop("ClientRequestToken", None)
        if token is None:
            return None
        return token, hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


class Faults:
    """Where AWS calls happen and what fails there; see the module docstring."""

    def __init__(self, thread: int | None = None) -> None:
        self.thread = threading.get_ident() if thread is None else thread
        self._lock = threading.RLock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._calls: dict[str, Site] = {}  # invocation id -> its site
        self._faults: list[Fault] = []
        self._recordings: list[list[Call]] = []
        self._quotas: weakref.WeakSet[quota.RetryQuota] = weakref.WeakSet()
        self.tokens = TransactionTokens()
        self.delays: list[float] = []  # backoff botocore wanted between attempts
        self.writer_sleeps: list[float] = []
        self.log: list[tuple[Site, str]] = []  # every attempt and how it ended

    def new_request(self) -> None:
        """Count occurrences afresh: the next call of each operation is #0."""
        with self._lock:
            self._counts.clear()
            self._calls.clear()

    @contextmanager
    def record(self) -> Iterator[list[Call]]:
        """Collect the logical calls made inside the block, in order."""
        calls: list[Call] = []
        with self._lock:
            self._recordings.append(calls)
        try:
            yield calls
        finally:
            with self._lock:
                self._recordings.remove(calls)

    def inject(self, site: Site, kind: str | Kind, times: int | None = None) -> Fault:
        """Fail `site` (and later calls of its operation) `times` attempts, or for good."""
        fault = Fault(site, KINDS[kind] if isinstance(kind, str) else kind, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def refill_quotas(self) -> None:
        """Give every client its full retry quota back (standard mode spends 5-14 of 500
        per retry and refunds only on success, so a long run of failures would otherwise
        stop botocore retrying in later cases)."""
        for retry_quota in list(self._quotas):
            retry_quota._available_capacity = retry_quota._max_capacity

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Hook moto, botocore's backoff and quota, and the writer's sleep. Clients built
        before this keep untracked retry quotas: build them afresh (bootstrap.reset())."""
        self._hook_moto(monkeypatch)
        self._hook_retries(monkeypatch)
        self._hook_writer(monkeypatch)

    def _hook_moto(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = BotocoreStubber.__call__
        faults = self

        def call(
            stubber: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kw: Any
        ) -> AWSResponse | None:
            if not stubber.enabled:
                return None

            def moto(sent: AWSPreparedRequest) -> AWSResponse:
                response = original(stubber, event_name, sent, **kw)
                assert response is not None, f"moto does not serve {event_name}"
                return response

            return faults._on_send(event_name, request, moto)

        monkeypatch.setattr(BotocoreStubber, "__call__", call)

    def _hook_retries(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_delay = standard.ExponentialBackoff.delay_amount
        real_init = quota.RetryQuota.__init__
        faults = self

        def no_delay(backoff: standard.ExponentialBackoff, context: Any) -> float:
            faults.delays.append(real_delay(backoff, context))
            return 0.0

        def tracked(retry_quota: quota.RetryQuota, *args: Any, **kw: Any) -> None:
            real_init(retry_quota, *args, **kw)
            faults._quotas.add(retry_quota)

        monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", no_delay)
        monkeypatch.setattr(quota.RetryQuota, "__init__", tracked)

    def _hook_writer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from chalicelib.store import writer

        clock = {name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
        clock["sleep"] = self.writer_sleeps.append
        monkeypatch.setattr(writer, "time", SimpleNamespace(**clock))

    def _on_send(self, event_name: str, request: AWSPreparedRequest, moto: Apply) -> AWSResponse:
        if threading.get_ident() != self.thread:
            return moto(request)  # moto's own work (a state machine's task), not the app's
        site = self._site(event_name, request)

        def apply(sent: AWSPreparedRequest) -> AWSResponse:
            return self.tokens.apply(site, sent, moto)

        fault = self._armed(site)
        if fault is None:
            response = apply(request)
            self.log.append((site, f"attempt {_attempt(request)}: moto {response.status_code}"))
            return response
        self.log.append((site, f"attempt {_attempt(request)}: {fault.kind}"))
        return fault.kind.fail(site, request, apply)

    def _site(self, event_name: str, request: AWSPreparedRequest) -> Site:
        _, service_id, operation = event_name.split(".", 2)
        invocation = _header(request, "amz-sdk-invocation-id") or str(id(request))
        with self._lock:
            site = self._calls.get(invocation)
            if site is None:
                service = service_id.replace("-", "")
                site = Site(service, operation, self._counts[(service, operation)])
                self._counts[(service, operation)] += 1
                self._calls[invocation] = site
                for calls in self._recordings:
                    asked = _body(request)
                    calls.append(Call(site, _what(service, operation, request), asked))
        return site

    def _armed(self, site: Site) -> Fault | None:
        with self._lock:
            return next((f for f in self._faults if f.matches(site) and f.take()), None)


def _header(request: AWSPreparedRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _attempt(request: AWSPreparedRequest) -> int:
    """Which attempt of its logical call this is (botocore's `amz-sdk-request` header)."""
    match = re.search(r"attempt=(\d+)", _header(request, "amz-sdk-request") or "")
    return int(match.group(1)) if match else 1


class PerRequest(ApiClient):
    """An API client that starts counting call sites afresh for every request it sends."""

    def __init__(self, inner: ApiClient, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults

    def call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Answer:
        self.faults.new_request()
        return self.inner.call(method, path, key, body, headers, raw)
