"""Structured logs: one JSON line per HTTP request, per consumer batch, per schedule run.

Every line is a JSON object on stdout, which is what Lambda ships to CloudWatch Logs and
what `make run` prints. Each line is also a CloudWatch embedded-metric record (its `_aws`
block), so requests and invocations are counted and timed without a PutMetricData call.
Lines carry identifiers (request, tenant, actor, route or handler, message ids), outcomes
and timings: never a header, a key, a secret or a body.

Hand-written rather than with Powertools' Logger and Metrics: this is all we would use of
them, and importing them costs every cold start 6-7 ms more (up to 28 ms on a busy machine;
`python -X importtime`), with the cold-start budget at a few tens of milliseconds.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

NAMESPACE = "Custos"
Kind = Literal["queue", "stream", "schedule"]
_MAX_IDS = 100  # a stream batch may hold 1000 records; the count is always complete


class _Stdout(logging.Handler):
    """Writes each record's message as one line to the current sys.stdout.

    Looked up at every line, not bound once: test runners and `make run` may replace
    sys.stdout after this module is imported."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout
            stream.write(record.getMessage() + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


# Not the `custos` logger: Chalice(app_name="custos") takes that one over when the app is
# built (level ERROR, its own text format, no propagation). Ours does not propagate
# either, so Lambda's root handler never prefixes a line and breaks the JSON that
# CloudWatch reads the metrics from.
log = logging.getLogger("custos.observability")
log.setLevel(logging.INFO)
log.propagate = False
if not log.handlers:
    log.addHandler(_Stdout())


def _emit(
    level: int, fields: dict[str, Any], metrics: dict[str, str], dimensions: list[str]
) -> None:
    now = time.time()
    line = {
        "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
        "level": logging.getLevelName(level),
        **fields,
        "_aws": {
            "Timestamp": int(now * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimensions],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit in metrics.items()],
                }
            ],
        },
    }
    log.log(level, json.dumps(line, default=str))


def log_request(
    *,
    request_id: str,
    route: str,
    status: int,
    started: float,
    tenant: str | None = None,
    actor: str | None = None,
    error: str | None = None,
    traceback_text: str | None = None,
) -> None:
    """The one line of an HTTP request: `route` is "METHOD /template", `started` the
    request's time.perf_counter(). A 500 passes its traceback, a 503 the error's type."""
    message = "request"
    level = logging.INFO
    if traceback_text is not None:
        message, level = "unhandled error", logging.ERROR
    elif error is not None:
        message, level = "dependency unavailable", logging.WARNING
    fields: dict[str, Any] = {
        "message": message,
        "kind": "http",
        "request_id": request_id,
        "tenant": tenant,
        "actor": actor,
        "route": route,
        "status": status,
        "status_class": f"{status // 100}xx",
        "Requests": 1,
        "Latency": _elapsed_ms(started),
    }
    if error is not None:
        fields["error"] = error
    if traceback_text is not None:
        fields["traceback"] = traceback_text
    metrics = {"Requests": "Count", "Latency": "Milliseconds"}
    _emit(level, fields, metrics, ["route", "status_class"])


def log_invocation(
    handler: str,
    kind: Kind,
    *,
    started: float,
    message_ids: Sequence[str] = (),
    count: int | None = None,
    failed: int = 0,
    outcome: str | None = None,
    tenant: str | None = None,
    actor: str | None = None,
    error: str | None = None,
    traceback_text: str | None = None,
) -> None:
    """The one line of a consumer batch or a schedule run.

    `handler` is the entry point's declared name; `count` defaults to len(message_ids)
    (0 for a schedule run); `failed` is how many messages failed (a batch's partial
    failures); `outcome` defaults to ok / partial / failed from those two; `actor` is the
    system part or principal the work ran as; `started` is time.perf_counter() at its start.
    """
    total = len(message_ids) if count is None else count
    if outcome is None:
        outcome = "ok" if failed == 0 else ("failed" if failed >= total else "partial")
    fields: dict[str, Any] = {
        "message": "invocation",
        "kind": kind,
        "handler": handler,
        "tenant": tenant,
        "actor": actor,
        "count": total,
        "message_ids": list(message_ids[:_MAX_IDS]),
        "failed": failed,
        "outcome": outcome,
        "Invocations": 1,
        "Messages": total,
        "Failed": failed,
        "Latency": _elapsed_ms(started),
    }
    if error is not None:
        fields["error"] = error
    if traceback_text is not None:
        fields["traceback"] = traceback_text
    level = logging.INFO if outcome in ("ok", "skipped") else logging.ERROR
    metrics = {
        "Invocations": "Count",
        "Messages": "Count",
        "Failed": "Count",
        "Latency": "Milliseconds",
    }
    _emit(level, fields, metrics, ["handler", "kind"])


class Invocation:
    """What a running invocation reports at its end; set by the code inside `invocation`."""

    # A plain class: @dataclass compiles its generated methods at import, about a
    # millisecond of every cold start.
    def __init__(
        self,
        handler: str,
        kind: Kind,
        message_ids: Sequence[str],
        count: int | None,
        tenant: str | None,
        actor: str | None,
    ) -> None:
        self.handler, self.kind, self.message_ids, self.count = handler, kind, message_ids, count
        self.tenant, self.actor = tenant, actor
        self.failed = 0
        self.outcome: str | None = None
        self.started = time.perf_counter()


@contextmanager
def invocation(
    handler: str,
    kind: Kind,
    *,
    message_ids: Sequence[str] = (),
    count: int | None = None,
    tenant: str | None = None,
    actor: str | None = None,
) -> Iterator[Invocation]:
    """Time a batch or a run and log its line when it ends.

    The body may set `failed`, `outcome`, `tenant` or `count` on the yielded Invocation.
    An exception logs outcome "error" with its traceback (every message counted failed)
    and propagates, so the queue's redrive or the schedule's retry still happens.
    """
    run = Invocation(handler, kind, message_ids, count, tenant, actor)
    try:
        yield run
    except Exception as exc:
        total = len(run.message_ids) if run.count is None else run.count
        log_invocation(
            **_fields(run),
            failed=total,
            outcome="error",
            error=type(exc).__name__,
            traceback_text=traceback.format_exc(),
        )
        raise
    log_invocation(**_fields(run), failed=run.failed, outcome=run.outcome)


def _fields(run: Invocation) -> dict[str, Any]:
    return {
        "handler": run.handler,
        "kind": run.kind,
        "started": run.started,
        "message_ids": run.message_ids,
        "count": run.count,
        "tenant": run.tenant,
        "actor": run.actor,
    }


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def log_failure(handler: str, message_id: str, exc: BaseException) -> None:
    """One line for a message a consumer failed on (its batch's line counts it): the
    handler, the message id and the traceback, never the message itself."""
    now = time.time()
    line = {
        "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
        "level": "ERROR",
        "message": "message failed",
        "handler": handler,
        "message_id": message_id,
        "error": type(exc).__name__,
        "traceback": "".join(traceback.format_exception(exc)),
    }
    log.error(json.dumps(line, default=str))


def log_deferred(what: str, subject: str, exc: BaseException) -> None:
    """One line for follow-up work that failed after its change committed and is left to a
    scheduled retry (a stage's callback to the workflow, which the reconciler re-sends)."""
    line = {
        "time": datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds"),
        "level": "WARNING",
        "message": "deferred",
        "what": what,
        "subject": subject,
        "error": type(exc).__name__,
    }
    log.warning(json.dumps(line, default=str))
