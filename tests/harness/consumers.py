"""The entry points no HTTP request starts, found from the declarations, and the inputs
they accept, captured from the running system.

Queue consumers, stream consumers and schedules come from `RESOURCES` (built from
`chalicelib.entrypoints`' declarations), never from a list kept here. Their inputs are not
made up either: `Capture` wraps every declared function in the app's handler map, so
whatever drives them (the local dispatcher, as Lambda would) hands each invocation through
it, and it keeps the event together with the world the function saw it in (the table and
the Step Functions executions), for every invocation the function accepted. Of a queue
batch, the first message is kept, as a batch of one (Lambda's partial batch response
judges each message alone, and only the first saw the world as it was captured); a
stream batch and a scheduled event are kept whole.

`invoke` then calls a function as Lambda does, and `Reported` says whether Lambda would
count the input as failed: a raised exception, or a message or record named in the
partial batch response. `restore` puts an input's world back, with the caches of a fresh
process or of a warm one, for whichever copy of the app is imported at the time (the
benchmarks re-import it to stand for a new process).
"""

from __future__ import annotations

import copy
import importlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from chalice import Chalice

from infra.dispatch import function_handler
from infra.lambda_context import LambdaContext
from infra.queue_pump import reported_failures
from infra.resources import RESOURCES, Resources
from tests.harness import executions, moto_table

QUEUE, STREAM, SCHEDULE = "queue", "stream", "schedule"


@dataclass(frozen=True)
class Entry:
    """A declared entry point: `kind` (queue, stream, schedule) and its function."""

    kind: str
    function: str
    timeout_seconds: int = 60

    def __str__(self) -> str:
        return f"{self.kind} {self.function}"

    @property
    def unit(self) -> str:
        """What one input is: a message, a stream batch, a scheduled run."""
        return {QUEUE: "message", STREAM: "batch", SCHEDULE: "run"}[self.kind]


def declared(resources: Resources = RESOURCES) -> list[Entry]:
    """Every queue consumer, stream consumer and schedule the app declares."""
    return [
        *(Entry(QUEUE, c.function, c.timeout_seconds) for c in resources.queue_consumers),
        *(Entry(STREAM, c.function) for c in resources.stream_consumers),
        *(Entry(SCHEDULE, s.function) for s in resources.schedules),
    ]


@dataclass(frozen=True)
class Input:
    """An event `entry` accepted, and the world it was handed over in."""

    entry: Entry
    event: dict[str, Any]
    table: Any  # moto_table.capture of the table, just before
    running: tuple[executions.Running, ...]  # the executions running just before
    answer: Any = None  # what the function answered (for a queue message: it alone)

    @property
    def ids(self) -> list[str]:
        """The message ids, stream record ids or event id the input carries."""
        if self.entry.kind == SCHEDULE:
            return [str(self.event.get("id"))]
        key = "messageId" if self.entry.kind == QUEUE else "eventID"
        return [str(r.get(key)) for r in self.event.get("Records", [])]


def redelivered(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as it comes back after a failure: a queue message with its receive
    count one up; a stream batch and a scheduled event unchanged (Lambda retries them as
    they were)."""
    again = copy.deepcopy(event)
    for record in again.get("Records", []):
        attributes = record.get("attributes")
        if isinstance(attributes, dict) and "ApproximateReceiveCount" in attributes:
            attributes["ApproximateReceiveCount"] = str(
                int(attributes["ApproximateReceiveCount"]) + 1
            )
    return again


@dataclass
class Reported:
    """How an invocation ended, as Lambda sees it."""

    failed: bool
    detail: str
    answer: Any = None


def invoke(app: Chalice, entry: Entry, event: dict[str, Any]) -> Reported:
    """Call the function Lambda would call for `entry`, with `event`."""
    context = LambdaContext.for_invocation(
        entry.function, f"local:{entry.function}", entry.timeout_seconds, str(uuid.uuid4())
    )
    try:
        answer = function_handler(app, entry.function)(event, context)
    except Exception as exc:
        return Reported(True, f"raised {type(exc).__name__}: {exc}")
    if entry.kind == SCHEDULE:
        return Reported(False, "returned", answer)
    failures = reported_failures(answer)
    if failures is None or failures:
        return Reported(True, f"reported failed: {answer!r}", answer)
    return Reported(False, "accepted", answer)


@dataclass
class Capture:
    """Keeps what every declared function accepted while it is installed (see the module
    docstring). `table` is the table the world is captured from."""

    app: Chalice
    table: str
    entries: list[Entry] = field(default_factory=declared)
    inputs: list[Input] = field(default_factory=list)

    @contextmanager
    def installed(self) -> Iterator[Capture]:
        with pytest.MonkeyPatch.context() as patch:
            for entry in self.entries:
                inner = function_handler(self.app, entry.function)
                patch.setitem(self.app.handler_map, entry.function, self._wrap(entry, inner))
            yield self

    def _wrap(self, entry: Entry, inner: Any) -> Any:
        def handler(event: Any, context: Any) -> Any:
            world = moto_table.capture(self.table, stream=False), executions.snapshot()
            answer = inner(event, context)  # what raises was not accepted: nothing kept
            self._keep(entry, event, answer, world)
            return answer

        return handler

    def _keep(self, entry: Entry, event: Any, answer: Any, world: tuple[Any, Any]) -> None:
        table, running = world
        if entry.kind == SCHEDULE:
            self.inputs.append(Input(entry, copy.deepcopy(event), table, running, answer))
            return
        failed = reported_failures(answer)
        if failed is None:
            return
        if entry.kind == STREAM:
            if not failed:
                self.inputs.append(Input(entry, copy.deepcopy(event), table, running, answer))
            return
        first = (event.get("Records") or [{}])[0]
        if first.get("messageId") and first["messageId"] not in failed:
            one = {**event, "Records": [copy.deepcopy(first)]}
            self.inputs.append(Input(entry, one, table, running, {"batchItemFailures": []}))

    def of(self, entry: Entry) -> list[Input]:
        return [i for i in self.inputs if i.entry == entry]


def describe(captured: Input) -> str:
    """What an input is, for tables: the kind or type a message names, a batch's size."""
    if captured.entry.kind == STREAM:
        return f"batch of {len(captured.event.get('Records', []))}"
    if captured.entry.kind == SCHEDULE:
        return "run"
    try:
        body = json.loads(captured.event["Records"][0]["body"])
    except (ValueError, KeyError, IndexError, TypeError):
        return "message"
    named = body.get("kind") or body.get("type") if isinstance(body, dict) else None
    return str(named) if isinstance(named, str) else "message"


def restore(captured: Input, table: str, warmth: str, executions_too: bool = True) -> None:
    """The table (and, with `executions_too`, the executions) as `captured` saw them, and
    the app's caches as a fresh process (`cold`) or a process that has served these
    tenants before (`warm`: their audit-chain heads cached) has them."""
    moto_table.restore(table, captured.table)
    if executions_too:
        executions.restore(captured.running, table)
    chill()
    if warmth == "warm":
        audit_head = importlib.import_module("chalicelib.store.audit_head")
        keys = importlib.import_module("chalicelib.store.keys")
        items = moto_table.snapshot(table)
        for tenant in sorted({pk.split("#")[1] for pk, _ in items if pk.startswith("T#")}):
            audit_head.current(keys.TenantKeys(tenant))


def chill() -> None:
    """The caches of a fresh Lambda process: bootstrap.reset() except that the boto3
    clients are kept (building one costs ~50 ms, and no cache of theirs saves a call)."""
    bootstrap = importlib.import_module("chalicelib.bootstrap")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bootstrap.client, "cache_clear", lambda: None)
        bootstrap.reset()
