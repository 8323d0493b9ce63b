"""The local dispatcher drives queue, stream and schedule consumers the way Lambda would."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from chalice import Chalice
from moto import mock_aws

from chalicelib.domain.actors import SystemPart
from chalicelib.entrypoints import Message, Queue, QueueConsumer, Schedule, StreamConsumer
from infra.dispatch import Dispatcher
from infra.local import free_port
from infra.provision import provision
from infra.resources import Resources, Table

WORK = Queue("Work", "TEST_WORK_QUEUE_URL", visibility_timeout_seconds=1, max_receive_count=3)
POISON = Queue("Poison", "TEST_POISON_QUEUE_URL", visibility_timeout_seconds=0, max_receive_count=2)
SLOW = Queue("Slow", "TEST_SLOW_QUEUE_URL", visibility_timeout_seconds=30)
FAST = Queue("Fast", "TEST_FAST_QUEUE_URL", visibility_timeout_seconds=30)
TABLE = Table("Things", "TEST_TABLE", "pk", "sk", stream_view_type="NEW_IMAGE")
CHANGES = StreamConsumer(
    function="on_change", table="Things", batch_size=10, maximum_retry_attempts=2
)
OUTBOX = StreamConsumer(function="on_outbox", table="Things", sort_key_prefix="OUTBOX#")
T0 = datetime(2024, 3, 1, 3, 0, tzinfo=UTC)  # a Friday
RESOURCES = Resources(
    tables=(TABLE,),
    buckets=(),
    queues=(
        WORK,
        POISON,
        SLOW,
        FAST,
        Queue(CHANGES.failure_queue, "TEST_ON_CHANGE_FAILURES_QUEUE_URL"),
        Queue(OUTBOX.failure_queue, "TEST_ON_OUTBOX_FAILURES_QUEUE_URL"),
    ),
    secrets=(),
    stream_consumers=(CHANGES, OUTBOX),
    queue_consumers=(
        QueueConsumer(function="on_work", queue="Work", part=SystemPart.WORKFLOW),
        QueueConsumer(function="on_poison", queue="Poison", part=SystemPart.WORKFLOW),
        QueueConsumer(function="on_slow", queue="Slow", part=SystemPart.SCAN),
        QueueConsumer(function="on_fast", queue="Fast", part=SystemPart.SCAN),
    ),
    schedules=(
        Schedule(function="sweeper", expression="rate(5 minutes)"),
        Schedule(function="nightly", expression="cron(30 3 * * ? *)"),
    ),
)


class Consumers:
    """A small Chalice app whose functions record what Lambda would hand them."""

    def __init__(self) -> None:
        self.app = Chalice(app_name="dispatch-test")
        self.batches: dict[str, list[list[dict[str, Any]]]] = {}
        self.fail_bodies: set[str] = set()  # reported in batchItemFailures
        self.raise_queue = False
        self.change_failures = 0  # raise for this many stream invocations
        self.report_changes: set[str] = set()  # sort keys to report as failed, once
        self.slow_entered = threading.Event()
        self.release_slow = threading.Event()
        self.events: dict[str, list[dict[str, Any]]] = {"sweeper": [], "nightly": []}

        def queue_consumer(name: str) -> None:
            @self.app.lambda_function(name=name)
            def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
                records = event["Records"]
                self.batches.setdefault(name, []).append(records)
                if self.raise_queue:
                    raise RuntimeError("consumer down")
                failed = [r["messageId"] for r in records if r["body"] in self.fail_bodies]
                return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

        for name in ("on_work", "on_poison", "on_fast"):
            queue_consumer(name)

        @self.app.lambda_function(name="on_slow")
        def on_slow(event: dict[str, Any], context: Any) -> None:
            self.slow_entered.set()
            self.release_slow.wait(10)  # bounded: a test that forgets to release still ends
            self.batches.setdefault("on_slow", []).append(event["Records"])

        @self.app.lambda_function(name="on_change")
        def on_change(event: dict[str, Any], context: Any) -> dict[str, Any]:
            records = event["Records"]
            self.batches.setdefault("on_change", []).append(records)
            if self.change_failures:
                self.change_failures -= 1
                raise RuntimeError("transient")
            failed = [r for r in records if sort_key(r) in self.report_changes]
            self.report_changes -= {sort_key(r) for r in failed}
            numbers = [r["dynamodb"]["SequenceNumber"] for r in failed]
            return {"batchItemFailures": [{"itemIdentifier": n} for n in numbers]}

        @self.app.lambda_function(name="on_outbox")
        def on_outbox(event: dict[str, Any], context: Any) -> None:
            self.batches.setdefault("on_outbox", []).append(event["Records"])

        @self.app.schedule("rate(5 minutes)", name="sweeper")
        def sweeper(event: Any) -> None:
            self.events["sweeper"].append(event.to_dict())

        @self.app.schedule("cron(30 3 * * ? *)", name="nightly")
        def nightly(event: Any) -> None:
            self.events["nightly"].append(event.to_dict())

    def bodies(self, function: str) -> list[list[str]]:
        return [[r["body"] for r in batch] for batch in self.batches.get(function, [])]

    def sort_keys(self, function: str) -> list[list[str]]:
        return [[sort_key(r) for r in batch] for batch in self.batches.get(function, [])]


def sort_key(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["sk"]["S"])


@dataclass
class World:
    consumers: Consumers
    dispatcher: Dispatcher
    env: dict[str, str]
    prefix: str

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    def send(self, queue: Queue, body: str, **extra: Any) -> str:
        answer = self.sqs.send_message(QueueUrl=self.env[queue.env_var], MessageBody=body, **extra)
        return str(answer["MessageId"])

    def counts(self, queue: Queue) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.env[queue.env_var],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def drain(self, url: str) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )
        return list(answer.get("Messages", []))

    def put(self, *sort_keys: str) -> None:
        ddb = boto3.client("dynamodb")
        for sk in sort_keys:
            ddb.put_item(TableName=self.env["TEST_TABLE"], Item={"pk": {"S": "a"}, "sk": {"S": sk}})


def make_world(clock: datetime = T0) -> World:
    prefix = f"dispatch-{uuid.uuid4().hex[:6]}"
    session = boto3.session.Session()
    env = provision(session, prefix, "unused", RESOURCES)
    consumers = Consumers()
    dispatcher = Dispatcher(consumers.app, session, env, RESOURCES, clock=lambda: clock)
    return World(consumers, dispatcher, env, prefix)


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        yield make_world()


@pytest.fixture(params=["in-process moto", "moto server"])
def any_world(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The world under in-process moto, and under a moto server on 127.0.0.1 (as `make run`)."""
    if request.param == "in-process moto":
        with mock_aws():
            yield make_world()
        return
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    try:
        yield make_world()
    finally:
        requests.post(f"http://127.0.0.1:{port}/moto-api/reset", timeout=5)
        server.stop()


def pump_until_delivered(dispatcher: Dispatcher, seconds: float = 5.0) -> int:
    """Pump until something is delivered (a message coming back after its visibility
    timeout), for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if delivered := dispatcher.pump_all():
            return delivered
        time.sleep(0.1)
    return 0


# --- queues -----------------------------------------------------------------------------


def test_a_queue_message_reaches_its_consumer_as_lambdas_sqs_record(world: World) -> None:
    sent = world.send(
        WORK,
        json.dumps({"tenant_id": "ten_1", "n": 1}),
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": "model.created"}},
    )
    assert world.dispatcher.pump_all() == 1
    [[record]] = world.consumers.batches["on_work"]
    queue_arn = world.sqs.get_queue_attributes(
        QueueUrl=world.env[WORK.env_var], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert record["messageId"] == sent and record["receiptHandle"]
    assert json.loads(record["body"]) == {"tenant_id": "ten_1", "n": 1}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "event_type": {
            "stringValue": "model.created",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        queue_arn,
        "us-east-1",
    )
    # the app's own reading of a record understands it
    message = Message.from_record(record)
    assert (message.tenant_id, message.attributes, message.receive_count) == (
        "ten_1",
        {"event_type": "model.created"},
        1,
    )
    assert world.counts(WORK) == (0, 0)  # deleted


def test_a_partial_batch_failure_deletes_only_the_messages_that_succeeded(world: World) -> None:
    for body in ("a", "b", "c"):
        world.send(WORK, body)
    world.consumers.fail_bodies = {"b"}
    assert world.dispatcher.pump_all() == 3
    assert world.counts(WORK) == (0, 1)  # a and c deleted; b in flight
    assert world.dispatcher.pump_all() == 0  # b stays hidden for the visibility timeout
    world.consumers.fail_bodies = set()
    assert pump_until_delivered(world.dispatcher) == 1
    again = world.consumers.batches["on_work"][-1]
    assert [(r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in again] == [("b", "2")]
    assert world.counts(WORK) == (0, 0)


def test_a_consumer_that_raises_has_none_of_its_batch_deleted(world: World) -> None:
    world.send(WORK, "a")
    world.send(WORK, "b")
    world.consumers.raise_queue = True
    assert world.dispatcher.pump_all() == 2
    assert world.counts(WORK) == (0, 2)
    world.consumers.raise_queue = False
    assert pump_until_delivered(world.dispatcher) == 2
    assert world.counts(WORK) == (0, 0)


def test_a_poison_message_ends_in_the_dead_letter_queue_after_max_receives(
    any_world: World,
) -> None:
    world = any_world
    world.send(POISON, "poison")
    world.send(POISON, "fine")
    world.consumers.fail_bodies = {"poison"}
    delivered = [world.dispatcher.pump_all() for _ in range(3)]
    # receive 1: both (fine deleted); receive 2: poison fails again; receive 3: redriven
    assert delivered == [2, 1, 0]
    assert world.consumers.bodies("on_poison") == [["poison", "fine"], ["poison"]]
    dlq = world.sqs.get_queue_url(QueueName=f"{world.prefix}-poison-dlq")["QueueUrl"]
    assert [m["Body"] for m in world.drain(dlq)] == ["poison"]
    assert world.counts(POISON) == (0, 0)


def test_a_slow_consumer_delays_only_its_own_queue(world: World) -> None:
    dispatcher, consumers = world.dispatcher, world.consumers
    dispatcher.start()
    try:
        world.send(SLOW, "slow")
        assert consumers.slow_entered.wait(10), "the slow consumer got its message"
        world.send(FAST, "fast")
        deadline = time.monotonic() + 10
        while not consumers.batches.get("on_fast") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert consumers.bodies("on_fast") == [["fast"]]
        assert "on_slow" not in consumers.batches  # still busy while the fast one was served
    finally:
        consumers.release_slow.set()
        assert dispatcher.stop() == []
    assert consumers.bodies("on_slow") == [["slow"]]


# --- streams ----------------------------------------------------------------------------


def test_stream_records_arrive_in_order_as_lambdas_records_and_a_failed_batch_is_retried(
    world: World,
) -> None:
    world.put("0", "1", "2")
    world.consumers.change_failures = 1
    world.dispatcher.pump_all()
    world.dispatcher.pump_all()
    assert world.consumers.sort_keys("on_change") == [["0", "1", "2"], ["0", "1", "2"]]
    record = world.consumers.batches["on_change"][-1][0]
    stream_arn = boto3.client("dynamodb").describe_table(TableName=world.env["TEST_TABLE"])[
        "Table"
    ]["LatestStreamArn"]
    assert record["eventSourceARN"] == stream_arn and record["eventName"] == "INSERT"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    world.put("3")
    world.dispatcher.pump_all()
    assert world.consumers.sort_keys("on_change")[-1] == ["3"]


def test_a_stream_binding_sees_only_the_records_its_filter_accepts(world: World) -> None:
    world.put("MODEL#1", "OUTBOX#evt_1", "MODEL#2")
    world.dispatcher.pump_all()
    assert world.consumers.sort_keys("on_outbox") == [["OUTBOX#evt_1"]]
    assert world.consumers.sort_keys("on_change") == [["MODEL#1", "OUTBOX#evt_1", "MODEL#2"]]


def test_a_reported_stream_failure_resumes_at_the_lowest_failed_record(world: World) -> None:
    world.put("0", "1", "2", "3")
    world.consumers.report_changes = {"3", "1"}
    world.dispatcher.pump_all()
    world.dispatcher.pump_all()
    world.dispatcher.pump_all()
    assert world.consumers.sort_keys("on_change") == [["0", "1", "2", "3"], ["1", "2", "3"]]


def test_a_stream_batch_whose_retries_are_spent_is_recorded_on_the_failure_queue_then_skipped(
    world: World,
) -> None:
    failures = world.env["TEST_ON_CHANGE_FAILURES_QUEUE_URL"]
    world.put("0", "1", "2")
    world.consumers.change_failures = 100
    for _ in range(CHANGES.maximum_retry_attempts):  # the first invocation and one retry
        world.dispatcher.pump_all()
    assert world.drain(failures) == []
    world.dispatcher.pump_all()  # the last retry fails: the batch is given up
    [message] = world.drain(failures)
    record = json.loads(message["Body"])
    tried = world.consumers.batches["on_change"]
    assert len(tried) == 1 + CHANGES.maximum_retry_attempts
    numbers = [r["dynamodb"]["SequenceNumber"] for r in tried[-1]]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(
        ":function:dispatch-test-local-on_change"
    )
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    info = record["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        numbers[0],
        numbers[-1],
        3,
    )
    assert info["streamArn"] == tried[-1][0]["eventSourceARN"] and info["shardId"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["approximateArrivalOfFirstRecord"])
    assert set(info) == {
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    }
    # skipped: nothing is delivered again, and what comes next is
    assert world.dispatcher.pump_all() == 0
    world.consumers.change_failures = 0
    world.put("3")
    world.dispatcher.pump_all()
    assert world.consumers.sort_keys("on_change")[-1] == ["3"]


def test_a_record_that_keeps_failing_is_recorded_from_itself_to_the_end_of_its_batch(
    world: World,
) -> None:
    world.put("0", "1", "2")
    for _ in range(1 + CHANGES.maximum_retry_attempts):
        world.consumers.report_changes = {"1"}
        world.dispatcher.pump_all()
    [message] = world.drain(world.env["TEST_ON_CHANGE_FAILURES_QUEUE_URL"])
    record = json.loads(message["Body"])
    batches = world.consumers.batches["on_change"]
    assert [len(b) for b in batches] == [3, 2, 2]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in batches[-1]]
    info = record["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        numbers[0],
        numbers[1],
        2,
    )
    assert record["responseContext"]["functionError"] is None


# --- schedules --------------------------------------------------------------------------


def test_rate_and_cron_schedules_fire_at_their_computed_times(world: World) -> None:
    run = world.dispatcher.run_due_schedules
    assert run(T0 + timedelta(minutes=4)) == []
    assert run(T0 + timedelta(minutes=5)) == ["sweeper"]
    assert run(T0 + timedelta(minutes=6)) == []
    # 03:30: the sweeper fell behind (due 03:10) and fires once; the nightly cron is due
    assert run(T0 + timedelta(minutes=30)) == ["sweeper", "nightly"]
    assert run(T0 + timedelta(minutes=31)) == []
    assert run(T0 + timedelta(minutes=35)) == ["sweeper"]
    assert run(T0 + timedelta(days=1, minutes=30)) == ["sweeper", "nightly"]
    nightly = world.consumers.events["nightly"]
    assert [e["time"] for e in nightly] == ["2024-03-01T03:30:00Z", "2024-03-02T03:30:00Z"]
    assert world.consumers.events["sweeper"][0]["time"] == "2024-03-01T03:05:00Z"
    event = nightly[0]
    assert (event["detail-type"], event["source"], event["detail"]) == (
        "Scheduled Event",
        "aws.events",
        {},
    )
    assert event["resources"][0].endswith(":rule/nightly") and event["region"] == "us-east-1"


def test_the_local_schedule_period_overrides_every_expression(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUSTOS_LOCAL_SCHEDULE_SECONDS", "10")
    with mock_aws():
        world = make_world()
        run = world.dispatcher.run_due_schedules
        assert run(T0 + timedelta(seconds=9)) == []
        assert run(T0 + timedelta(seconds=10)) == ["sweeper", "nightly"]
        assert run(T0 + timedelta(seconds=15)) == []
        assert run(T0 + timedelta(seconds=20)) == ["sweeper", "nightly"]


def test_a_local_schedule_period_that_is_not_a_positive_number_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUSTOS_LOCAL_SCHEDULE_SECONDS", "soon")
    with mock_aws(), pytest.raises(ValueError, match="CUSTOS_LOCAL_SCHEDULE_SECONDS must be"):
        make_world()
