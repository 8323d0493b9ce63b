"""Entry points that no HTTP request starts, each declared once.

Routes are declared with `api.http.endpoint`; everything else Custos runs is declared here:

- **queue consumers** (`consumer`): a Lambda function fed by one SQS queue, called once per
  message with a system actor; a failed message is reported alone (partial batch failure)
  and comes back after the queue's visibility timeout, then goes to its dead-letter queue
  after `max_receive_count` receives. A queue may subscribe to domain events from the
  fan-out topic (`subscribes_to`, event-type prefixes).
- **stream consumers** (`stream_consumer`): a Lambda function fed by the table's stream.
- **schedules** (`schedule`): `rate(...)` or `cron(...)` EventBridge schedules.
- **state machines** (`state_machine`): a Step Functions definition in
  `chalicelib/workflows/<name>.asl.json` and the queues it sends to.

From these declarations come the resources (`infra/resources.py`, `infra/provision.py`,
the CDK stack), the drift test, the local dispatcher's wiring, fault injection and the
benchmarks; a new entry point reaches all of them without anyone listing it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from chalicelib.domain.actors import Actor, SystemPart


class _Registrar(Protocol):
    """What a Chalice app or Blueprint offers to register Lambda handlers."""

    def lambda_function(self, name: str | None = None) -> Callable[..., Any]: ...

    def schedule(self, expression: str, name: str | None = None) -> Callable[..., Any]: ...


# The declarations are NamedTuples, not dataclasses: every Lambda function of the app
# makes them at import, and @dataclass compiles its generated methods there.


class Queue(NamedTuple):
    """A standard SQS queue with its dead-letter queue.

    `subscribes_to` lists event-type prefixes (`approval.`) the queue takes from the fan-out
    topic; a queue that subscribes to nothing is fed directly (by a state machine)."""

    logical_id: str
    env_var: str
    visibility_timeout_seconds: int = 60
    retention_seconds: int = 4 * 24 * 3600
    max_receive_count: int = 5
    dlq_retention_seconds: int = 14 * 24 * 3600
    subscribes_to: tuple[str, ...] = ()


class Message(NamedTuple):
    """One SQS message as a consumer sees it."""

    id: str
    body: Any  # the parsed JSON body (a string when the body is not JSON)
    attributes: dict[str, str]
    receive_count: int

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Message:
        raw = record.get("body", "")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        attributes = {
            name: str(value.get("stringValue") or value.get("StringValue") or "")
            for name, value in (record.get("messageAttributes") or {}).items()
        }
        count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        return cls(str(record.get("messageId")), body, attributes, count)

    @property
    def tenant_id(self) -> str | None:
        """The tenant a message acts on: every message Custos sends names one."""
        value = self.body.get("tenant_id") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None


LAMBDA_MAX_TIMEOUT = 900  # seconds: Lambda stops any function at 15 minutes

MessageHandler = Callable[[Actor, Message], None]
RecordsHandler = Callable[[Actor, list[dict[str, Any]]], dict[str, Any]]
ScheduleHandler = Callable[[Actor], Any]


class QueueConsumer(NamedTuple):
    """A Lambda function fed by an SQS queue, one message at a time."""

    function: str
    queue: str  # the Queue's logical id
    part: SystemPart
    batch_size: int = 10
    timeout_seconds: int = 60
    handle: MessageHandler | None = None
    # A message this consumer accepts, for the harness (fault injection, benchmarks).
    example: Callable[[], dict[str, Any]] | None = None
    # At most this many invocations at once (the event source's maximum concurrency, at
    # least 2 on AWS); None leaves it to Lambda. The local dispatcher runs as many workers.
    concurrency: int | None = None


class StreamConsumer(NamedTuple):
    """A Lambda function fed by a table's stream.

    `event_names` and `sort_key_prefix` filter the records before the function sees them
    (Lambda's filter criteria), so it is not invoked for every write. A batch that keeps
    failing is recorded on the binding's failure queue (Lambda's on-failure destination)."""

    function: str
    table: str
    part: SystemPart = SystemPart.RELAY
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    maximum_retry_attempts: int = 10
    bisect_batch_on_error: bool = True
    event_names: tuple[str, ...] = ()
    sort_key_prefix: str | None = None
    handle: RecordsHandler | None = None

    def filter_pattern(self, sort_key: str) -> dict[str, object] | None:
        """The Lambda event-filter pattern of this binding, or None to take every record."""
        pattern: dict[str, object] = {}
        if self.event_names:
            pattern["eventName"] = list(self.event_names)
        if self.sort_key_prefix:
            prefix = [{"prefix": self.sort_key_prefix}]
            pattern["dynamodb"] = {"Keys": {sort_key: {"S": prefix}}}
        return pattern or None

    def accepts(self, record: dict[str, Any], sort_key: str) -> bool:
        """Whether a stream record passes the filter (what the local dispatcher applies)."""
        if self.event_names and record.get("eventName") not in self.event_names:
            return False
        if self.sort_key_prefix:
            value = record.get("dynamodb", {}).get("Keys", {}).get(sort_key, {}).get("S", "")
            return str(value).startswith(self.sort_key_prefix)
        return True

    @property
    def failure_queue(self) -> str:
        """Logical id of the queue a batch that exhausts its retries is recorded on."""
        return f"{_camel(self.function)}Failures"


class Schedule(NamedTuple):
    """A Lambda function run by an EventBridge schedule (`rate(...)` or `cron(...)`)."""

    function: str
    expression: str
    part: SystemPart = SystemPart.SCHEDULER
    handle: ScheduleHandler | None = None
    # How often the local dispatcher (make run) fires it instead, in seconds: a nightly
    # job one wants to watch locally without waiting for the night. None: as on AWS.
    local_seconds: float | None = None


class StateMachine(NamedTuple):
    """A Step Functions state machine: `chalicelib/workflows/<name>.asl.json`.

    The definition names the queues it sends to as `${<Queue>QueueUrl}` and takes every
    duration from its input, so tests run deadlines of seconds."""

    name: str
    env_var: str


QUEUES: dict[str, Queue] = {}
CONSUMERS: list[QueueConsumer] = []
STREAM_CONSUMERS: list[StreamConsumer] = []
SCHEDULES: list[Schedule] = []
STATE_MACHINES: list[StateMachine] = []


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def queue(queue_decl: Queue) -> Queue:
    """Declare a queue (once per logical id)."""
    known = QUEUES.get(queue_decl.logical_id)
    if known is not None and known != queue_decl:
        raise ValueError(f"queue {queue_decl.logical_id} is declared twice, differently")
    QUEUES[queue_decl.logical_id] = queue_decl
    return queue_decl


def state_machine(name: str) -> StateMachine:
    """Declare the state machine `chalicelib/workflows/<name>.asl.json`."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()
    machine = StateMachine(name, f"CUSTOS_{snake}_STATE_MACHINE_ARN")
    if machine not in STATE_MACHINES:
        STATE_MACHINES.append(machine)
    return machine


def consumer(
    app: _Registrar,
    *,
    function: str,
    queue_decl: Queue,
    part: SystemPart,
    batch_size: int = 10,
    timeout_seconds: int = 60,
    example: Callable[[], dict[str, Any]] | None = None,
    concurrency: int | None = None,
) -> Callable[[MessageHandler], MessageHandler]:
    """Declare a queue consumer: `handle(actor, message)` runs once per message."""
    if concurrency is not None and not 2 <= concurrency <= 1000:
        raise ValueError(f"{function}'s concurrency must be 2-1000 (Lambda's)")
    if not 1 <= timeout_seconds <= LAMBDA_MAX_TIMEOUT:
        raise ValueError(f"{function}'s timeout must be 1-{LAMBDA_MAX_TIMEOUT} s (Lambda's)")
    queue(queue_decl)
    if queue_decl.visibility_timeout_seconds < timeout_seconds:
        raise ValueError(f"{queue_decl.logical_id}'s visibility timeout is below {function}'s")

    def register(handle: MessageHandler) -> MessageHandler:
        spec = QueueConsumer(
            function,
            queue_decl.logical_id,
            part,
            batch_size,
            timeout_seconds,
            handle,
            example,
            concurrency,
        )
        CONSUMERS.append(spec)
        app.lambda_function(name=function)(_sqs_entry(spec, handle))
        return handle

    return register


def stream_consumer(app: _Registrar, **declared: Any) -> Callable[[RecordsHandler], RecordsHandler]:
    """Declare a stream consumer (see `StreamConsumer` for what `declared` may say)."""

    def register(handle: RecordsHandler) -> RecordsHandler:
        spec = StreamConsumer(handle=handle, **declared)
        STREAM_CONSUMERS.append(spec)
        queue(Queue(spec.failure_queue, f"CUSTOS_{spec.function.upper()}_FAILURES_QUEUE_URL"))
        app.lambda_function(name=spec.function)(_stream_entry(spec, handle))
        return handle

    return register


def schedule(
    app: _Registrar,
    *,
    function: str,
    expression: str,
    part: SystemPart = SystemPart.SCHEDULER,
    local_seconds: float | None = None,
) -> Callable[[ScheduleHandler], ScheduleHandler]:
    """Declare a scheduled function: `handle(actor)` runs at each `expression` (locally,
    every `local_seconds` when given)."""

    def register(handle: ScheduleHandler) -> ScheduleHandler:
        spec = Schedule(function, expression, part, handle, local_seconds)
        SCHEDULES.append(spec)
        app.schedule(expression, name=function)(_schedule_entry(spec, handle))
        return handle

    return register


# --- the Lambda entry points the declarations register -------------------------------


def _sqs_entry(spec: QueueConsumer, handle: MessageHandler) -> Callable[[Any, Any], Any]:
    """Lambda's SQS entry point: each message alone, failures reported per message."""

    def entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from chalicelib import observability

        records = event.get("Records", [])
        ids = [str(r.get("messageId")) for r in records]
        failures: list[dict[str, str]] = []
        with observability.invocation(
            spec.function, "queue", message_ids=ids, actor=f"system:{spec.part}"
        ) as run:
            tenants: set[str] = set()
            for record in records:
                message = Message.from_record(record)
                if message.tenant_id:
                    tenants.add(message.tenant_id)
                actor = Actor.of_system(spec.part, message.id, message.tenant_id)
                try:
                    handle(actor, message)
                except Exception as exc:
                    failures.append({"itemIdentifier": message.id})
                    observability.log_failure(spec.function, message.id, exc)
            run.failed = len(failures)
            run.tenant = ",".join(sorted(tenants)) or None
        return {"batchItemFailures": failures}

    return entry


def _stream_entry(spec: StreamConsumer, handle: RecordsHandler) -> Callable[[Any, Any], Any]:
    """Lambda's DynamoDB-stream entry point: the batch to the handler, as one run."""

    def entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from chalicelib import observability

        records = event.get("Records", [])
        actor = Actor.of_system(spec.part, _batch_id(records))
        with observability.invocation(
            spec.function,
            "stream",
            message_ids=[str(r.get("eventID")) for r in records],
            actor=f"system:{spec.part}",
        ) as run:
            result = handle(actor, records)
            run.failed = len(result.get("batchItemFailures", []))
        return result

    return entry


def _schedule_entry(spec: Schedule, handle: ScheduleHandler) -> Callable[[Any], Any]:
    """Lambda's EventBridge entry point for a schedule: one run as the declared part."""

    def entry(event: Any) -> Any:
        from chalicelib import observability

        event_id = str(getattr(event, "event_id", None) or "scheduled")
        actor = Actor.of_system(spec.part, event_id)
        with observability.invocation(
            spec.function, "schedule", message_ids=[event_id], actor=f"system:{spec.part}"
        ):
            return handle(actor)

    return entry


def _batch_id(records: list[dict[str, Any]]) -> str:
    """A stream batch's id: its first record's sequence number."""
    if not records:
        return "empty-batch"
    return str(records[0].get("dynamodb", {}).get("SequenceNumber") or records[0].get("eventID"))
