"""The local event dispatcher: drives the app's event sources as Lambda would.

- DynamoDB stream consumers (RESOURCES.stream_consumers): read the table's
  stream shard by shard and call the function with batches of records; a
  failing batch is retried up to the declared attempts, then skipped and logged.
- SQS consumers (RESOURCES.queue_consumers, bound to `@app.lambda_function`s):
  poll, call the function with an SQS event, delete on success; a failure
  leaves the batch to reappear after the queue's visibility timeout and, after
  maxReceiveCount receives, move to its dead-letter queue (the redrive policy).
- Schedules (`@app.schedule`): `rate(...)` expressions run on their period with
  a scheduled-event payload; cron expressions are not run locally (logged).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalice import Chalice

from infra.resources import RESOURCES, Resources

log = logging.getLogger("custos.dispatch")
Handler = Callable[[dict[str, Any], Any], Any]


def function_handler(app: Chalice, name: str) -> Handler:
    """The callable Chalice registered for the Lambda function `name`."""
    for function in app.pure_lambda_functions:
        if function.name == name:
            return function
    for source in app.event_sources:
        if source.name == name:
            return app.handler_map[name]
    raise KeyError(f"the app declares no function {name}")


@dataclass
class StreamPump:
    """Feeds one table's stream to one function, shard by shard, in order.

    It remembers the last sequence number it delivered and asks for a fresh
    iterator after it on every pass, rather than keeping iterators: on AWS they
    expire after 15 minutes, and moto replaces a table's shard object when it
    rolls back a cancelled transaction, which strands a kept iterator.
    """

    streams: Any
    stream_arn: str
    handler: Handler
    batch_size: int = 100
    max_attempts: int = 10
    accepts: Callable[[dict[str, Any]], bool] = lambda record: True
    _positions: dict[str, str] = field(default_factory=dict)
    _failures: int = 0

    def pump_once(self) -> int:
        """Deliver what the stream holds now; returns the number of records delivered."""
        delivered = 0
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            delivered += self._drain(shard["ShardId"])
        return delivered

    def _iterator(self, shard_id: str) -> str:
        position = self._positions.get(shard_id)
        params: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        if position is None:
            params["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            params.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position)
        return str(self.streams.get_shard_iterator(**params)["ShardIterator"])

    def _drain(self, shard_id: str) -> int:
        delivered = 0
        iterator: str | None = self._iterator(shard_id)
        for _ in range(100):  # bounded: at most 100 batches a pass per shard
            if not iterator:
                break
            answer = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = answer.get("Records", [])
            if not records:
                break
            wanted = [r for r in records if self.accepts(r)]
            try:
                if wanted:  # Lambda does not invoke for a batch its filter emptied
                    self.handler({"Records": wanted}, None)
            except Exception:
                self._failures += 1
                log.exception("stream batch failed (attempt %s)", self._failures)
                if self._failures < self.max_attempts:
                    break  # the position stays: the batch is retried on the next pass
                log.error("giving up on a stream batch of %s records", len(records))
            self._failures = 0
            self._positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            delivered += len(records)
            iterator = answer.get("NextShardIterator")
        return delivered


@dataclass
class QueuePump:
    """Feeds one SQS queue to one function."""

    sqs: Any
    queue_url: str
    queue_arn: str
    handler: Handler
    batch_size: int = 10

    def pump_once(self, wait_seconds: int = 0) -> int:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        try:
            self.handler(event, None)
        except Exception:
            log.exception("queue batch failed; messages reappear after the visibility timeout")
            return 0
        self.sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
        }


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a `rate(...)` schedule; None for cron expressions."""
    match = _RATE.match(expression)
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


class Dispatcher:
    """Runs every pump on a background thread until stopped."""

    def __init__(
        self,
        app: Chalice,
        session: Any,
        env: dict[str, str],
        resources: Resources = RESOURCES,
        poll_seconds: float = 0.5,
    ) -> None:
        self.app = app
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()
        self.streams: list[StreamPump] = []
        self.queues: list[QueuePump] = []
        self.schedules: list[Schedule] = []
        ddb = session.client("dynamodb")
        streams = session.client("dynamodbstreams")
        for consumer in resources.stream_consumers:
            table = resources.table(consumer.table)
            arn = ddb.describe_table(TableName=env[table.env_var])["Table"]["LatestStreamArn"]
            self.streams.append(
                StreamPump(
                    streams,
                    arn,
                    function_handler(app, consumer.function),
                    consumer.batch_size,
                    consumer.maximum_retry_attempts,
                    functools.partial(consumer.accepts, sort_key=table.sort_key),
                )
            )
        sqs = session.client("sqs")
        for queue_consumer in resources.queue_consumers:
            url = env[resources.queue(queue_consumer.queue).env_var]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            handler = function_handler(app, queue_consumer.function)
            self.queues.append(QueuePump(sqs, url, arn, handler, queue_consumer.batch_size))
        started = time.monotonic()
        for source in app.event_sources:
            expression = getattr(source, "schedule_expression", None)
            if expression is None:
                continue
            text = expression if isinstance(expression, str) else expression.to_string()
            period = rate_seconds(text)
            if period is None:
                log.warning("schedule %s (%s) is not run locally", source.name, text)
                continue
            handler = app.handler_map[source.name]
            self.schedules.append(Schedule(source.name, period, handler, started + period))
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)

    def pump_all(self) -> int:
        """One pass over every stream and queue; returns how much was delivered."""
        return sum(p.pump_once() for p in self.streams) + sum(q.pump_once() for q in self.queues)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self._thread.join(timeout=10)

    def run_due_schedules(self, now: float) -> list[str]:
        """Run every schedule whose time has come by `now` (monotonic); returns their names."""
        ran = []
        for schedule in self.schedules:
            if now >= schedule.next_run:
                schedule.next_run = now + schedule.period
                schedule.handler(scheduled_event(schedule.name), None)
                ran.append(schedule.name)
        return ran

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.pump_all()
                self.run_due_schedules(time.monotonic())
            except Exception:
                log.exception("dispatcher pass failed; going on")
            self.stop_event.wait(self.poll_seconds)


@dataclass
class Schedule:
    name: str
    period: float
    handler: Handler
    next_run: float


def scheduled_event(name: str) -> dict[str, Any]:
    """The EventBridge scheduled-event payload Lambda would receive."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{name}"],
        "detail": {},
    }
