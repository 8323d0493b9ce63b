"""The local event dispatcher: drives every entry point the app declares, as Lambda would.

Everything comes from `RESOURCES` (built from `chalicelib.entrypoints`' declarations) and
the functions Chalice registered for them; nothing is listed here.

- **Queue consumers** (`queue_consumers`): each has a worker thread of its own that
  long-polls its queue (`wait_seconds`, 1 s), so a slow consumer delays only its own queue.
  Partial batch responses, visibility timeouts and dead-letter queues behave as on AWS
  (`infra/queue_pump.py`).
- **Stream consumers** (`stream_consumers`): one thread reads every binding's shards in
  order, applies the binding's filter, retries a failing batch from the record that failed,
  and records a batch whose retries are spent on the binding's failure queue
  (`infra/stream_pump.py`).
- **Schedules** (`schedules`): `rate(...)` and `cron(...)` expressions fire at their times
  (UTC) with an EventBridge "Scheduled Event" (`infra/schedules.py`, `infra/cron.py`).
  Set `CUSTOS_LOCAL_SCHEDULE_SECONDS=N` to make every schedule fire every N seconds instead
  (`CUSTOS_LOCAL_SCHEDULE_SECONDS=10 make run` runs the nightly audit check every 10 s).
- **State machines** run inside moto itself (Step Functions executes them); what they send
  reaches the queue consumers above.

Tests call `pump_all()` (one synchronous pass over every stream and queue) and
`run_due_schedules(now)` (the schedule loop's body, with the time given); `make run` calls
`start()` and `stop()`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalice import Chalice

from infra.lambda_context import Handler, LambdaContext, function_arn
from infra.queue_pump import QueuePump
from infra.resources import RESOURCES, QueueConsumer, Resources, StreamConsumer
from infra.schedules import Timer, local_period, scheduled_event
from infra.stream_pump import StreamPump

__all__ = ["Dispatcher", "function_handler"]

log = logging.getLogger("custos.dispatch")
DEFAULT_ACCOUNT = "123456789012"  # moto's, when no ARN says otherwise


def function_handler(app: Chalice, name: str) -> Handler:
    """The entry point Lambda invokes for the function `name`: what Chalice registered in
    its handler map (`handler(event, context)`, the app's middleware included)."""
    try:
        return app.handler_map[name]
    except KeyError:
        raise KeyError(f"the app registers no Lambda function {name}") from None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Feeds every declared queue, stream and schedule to its function.

    `env` holds the provisioned resources' environment variables; `wait_seconds` is a queue
    worker's long poll, `poll_seconds` the stream and schedule loops' pause; `clock` tells
    the schedules the time (UTC) and `schedule_seconds` overrides every schedule's period
    (by default `CUSTOS_LOCAL_SCHEDULE_SECONDS`, when set)."""

    def __init__(
        self,
        app: Chalice,
        session: Any,
        env: dict[str, str],
        resources: Resources = RESOURCES,
        poll_seconds: float = 0.5,
        wait_seconds: int = 1,
        clock: Callable[[], datetime] = _utc_now,
        schedule_seconds: float | None = None,
    ) -> None:
        self.poll_seconds = poll_seconds
        self.wait_seconds = wait_seconds
        self.clock = clock
        self.region = session.region_name or "us-east-1"
        self.account = DEFAULT_ACCOUNT
        self._app_name = app.app_name
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        sqs = session.client("sqs")
        self.queues = [
            self._queue_pump(app, sqs, env, resources, c) for c in resources.queue_consumers
        ]
        self._workers = [c.concurrency or 1 for c in resources.queue_consumers]
        streams, ddb = session.client("dynamodbstreams"), session.client("dynamodb")
        self.streams = [
            self._stream_pump(app, (streams, ddb, sqs), env, resources, c)
            for c in resources.stream_consumers
        ]
        period = local_period() if schedule_seconds is None else schedule_seconds
        now = clock()
        self.timers = [
            Timer.start(
                s.function, s.expression, now, period if period is not None else s.local_seconds
            )
            for s in resources.schedules
        ]
        self._schedule_handlers = {
            s.function: function_handler(app, s.function) for s in resources.schedules
        }

    # --- wiring -----------------------------------------------------------------------

    def _arn_of(self, function: str) -> str:
        """The function's ARN, named as a deployed Chalice app names it."""
        return function_arn(self.region, self.account, f"{self._app_name}-local-{function}")

    def _queue_pump(
        self,
        app: Chalice,
        sqs: Any,
        env: dict[str, str],
        resources: Resources,
        consumer: QueueConsumer,
    ) -> QueuePump:
        url = _queue_url(resources, env, consumer.queue)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.account = arn.split(":")[4] or self.account
        return QueuePump(
            sqs=sqs,
            queue_url=url,
            queue_arn=arn,
            function=consumer.function,
            handler=function_handler(app, consumer.function),
            batch_size=consumer.batch_size,
            timeout_seconds=consumer.timeout_seconds,
            function_arn=self._arn_of(consumer.function),
        )

    def _stream_pump(
        self,
        app: Chalice,
        clients: tuple[Any, Any, Any],
        env: dict[str, str],
        resources: Resources,
        consumer: StreamConsumer,
    ) -> StreamPump:
        streams, ddb, sqs = clients
        table = resources.table(consumer.table)
        arn = ddb.describe_table(TableName=env[table.env_var])["Table"]["LatestStreamArn"]
        self.account = arn.split(":")[4] or self.account
        return StreamPump(
            streams=streams,
            sqs=sqs,
            stream_arn=arn,
            function=consumer.function,
            handler=function_handler(app, consumer.function),
            failure_queue_url=_queue_url(resources, env, consumer.failure_queue),
            batch_size=consumer.batch_size,
            maximum_retry_attempts=consumer.maximum_retry_attempts,
            starting_position=consumer.starting_position,
            accepts=functools.partial(consumer.accepts, sort_key=table.sort_key),
            function_arn=self._arn_of(consumer.function),
        )

    # --- one pass, for tests ------------------------------------------------------------

    def pump_all(self) -> int:
        """One synchronous pass over every stream and then every queue (no long poll);
        returns the number of records and messages handed to functions."""
        delivered = sum(pump.pump_once() for pump in self.streams)
        return delivered + sum(pump.pump_once(wait_seconds=0) for pump in self.queues)

    def run_due_schedules(self, now: datetime) -> list[str]:
        """Fire every schedule whose time has come by `now`; returns the functions fired.
        A function that fails is logged; it fires again at its next time."""
        fired = []
        for timer in self.timers:
            due = timer.take(now)
            if due is None:
                continue
            fired.append(timer.function)
            event = scheduled_event(timer.function, due, self.region, self.account)
            context = LambdaContext.for_invocation(
                timer.function,
                self._arn_of(timer.function),
                60,
                str(uuid.uuid4()),
            )
            try:
                self._schedule_handlers[timer.function](event, context)
            except Exception:
                log.exception("schedule %s failed", timer.function)
        return fired

    # --- threads, for make run ----------------------------------------------------------

    def start(self) -> None:
        """Run every queue's worker, the streams' reader and the schedule loop in threads."""
        if self._threads:
            raise RuntimeError("the dispatcher is already running")
        self._stop.clear()
        # As many workers per queue as the consumer may run at once on Lambda.
        loops: list[tuple[str, Callable[[], None]]] = [
            (f"dispatch-{pump.function}-{n}", functools.partial(self._queue_loop, pump))
            for pump, workers in zip(self.queues, self._workers, strict=True)
            for n in range(workers)
        ]
        if self.streams:
            loops.append(("dispatch-streams", self._stream_loop))
        if self.timers:
            loops.append(("dispatch-schedules", self._schedule_loop))
        self._threads = [threading.Thread(target=run, name=n, daemon=True) for n, run in loops]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> list[str]:
        """Stop the threads, waiting at most `timeout` seconds (a long poll plus a few
        seconds by default) for all of them; returns the names of those still running
        (a function that does not return keeps its thread)."""
        self._stop.set()
        limit = self.wait_seconds + 5.0 if timeout is None else timeout
        deadline = time.monotonic() + limit
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("dispatcher threads still running after %.0f s: %s", limit, stuck)
        self._threads = []
        return stuck

    def _queue_loop(self, pump: QueuePump) -> None:
        while not self._stop.is_set():
            try:
                pump.pump_once(wait_seconds=self.wait_seconds)
            except Exception:
                log.exception("receiving from %s failed; trying again", pump.queue_url)
                self._stop.wait(self.poll_seconds)

    def _stream_loop(self) -> None:
        while not self._stop.is_set():
            for pump in self.streams:
                try:
                    pump.pump_once()
                except Exception:
                    log.exception("reading the stream of %s failed; going on", pump.function)
            self._stop.wait(self.poll_seconds)

    def _schedule_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due_schedules(self.clock())
            except Exception:
                log.exception("the schedule loop failed; going on")
            self._stop.wait(self.poll_seconds)


def _queue_url(resources: Resources, env: dict[str, str], logical_id: str) -> str:
    declared = [q for q in resources.queues if q.logical_id == logical_id]
    if not declared:
        raise KeyError(f"no queue {logical_id} is declared in the resources")
    if declared[0].env_var not in env:
        raise KeyError(f"queue {logical_id} is not provisioned ({declared[0].env_var} unset)")
    return env[declared[0].env_var]
