"""The local dispatcher drives queue, stream and schedule consumers the way Lambda would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice import Chalice
from moto import mock_aws

from infra.dispatch import Dispatcher
from infra.provision import provision
from infra.resources import Queue, QueueConsumer, Resources, StreamConsumer, Table

WORK = Queue(
    logical_id="Work",
    env_var="TEST_WORK_QUEUE_URL",
    visibility_timeout_seconds=1,
    max_receive_count=2,
)
TABLE = Table(
    logical_id="Things",
    env_var="TEST_TABLE",
    partition_key="pk",
    sort_key="sk",
    stream_view_type="NEW_IMAGE",
)
RESOURCES = Resources(
    tables=(TABLE,),
    buckets=(),
    queues=(WORK,),
    secrets=(),
    stream_consumers=(StreamConsumer(function="on_change", table="Things", batch_size=10),),
    queue_consumers=(QueueConsumer(function="on_work", queue="Work"),),
)


class Consumers:
    """A small Chalice app whose handlers record what Lambda would hand them."""

    def __init__(self) -> None:
        self.app = Chalice(app_name="dispatch-test")
        self.work: list[dict[str, Any]] = []
        self.changes: list[dict[str, Any]] = []
        self.ticks: list[dict[str, Any]] = []
        self.fail_work = False
        self.fail_changes = 0

        @self.app.lambda_function(name="on_work")
        def on_work(event: dict[str, Any], context: Any) -> None:
            if self.fail_work:
                raise RuntimeError("consumer down")
            self.work.extend(event["Records"])

        @self.app.lambda_function(name="on_change")
        def on_change(event: dict[str, Any], context: Any) -> None:
            if self.fail_changes:
                self.fail_changes -= 1
                raise RuntimeError("transient")
            self.changes.extend(event["Records"])

        @self.app.schedule("rate(5 minutes)", name="sweeper")
        def sweeper(event: Any) -> None:
            self.ticks.append(event.to_dict())


World = tuple[Consumers, Dispatcher, dict[str, str]]


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        session = boto3.session.Session()
        env = provision(session, "dispatch", "unused", RESOURCES)
        consumers = Consumers()
        yield consumers, Dispatcher(consumers.app, session, env, RESOURCES), env


def test_queue_messages_reach_their_consumer_as_sqs_records_and_are_deleted(world: World) -> None:
    consumers, dispatcher, env = world
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=env["TEST_WORK_QUEUE_URL"], MessageBody=json.dumps({"n": 1}))
    assert dispatcher.pump_all() == 1
    record = consumers.work[0]
    assert json.loads(record["body"]) == {"n": 1}
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(
        ":dispatch-work"
    )
    time.sleep(1.2)
    assert dispatcher.pump_all() == 0


def test_a_failing_queue_consumer_sees_the_message_again_then_it_goes_to_the_dlq(
    world: World,
) -> None:
    consumers, dispatcher, env = world
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=env["TEST_WORK_QUEUE_URL"], MessageBody="poison")
    consumers.fail_work = True
    for _ in range(4):  # receive 1, 2 fail; the third receive finds it gone to the DLQ
        dispatcher.pump_all()
        time.sleep(1.1)
    dlq = sqs.get_queue_url(QueueName="dispatch-work-dlq")["QueueUrl"]
    moved = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in moved] == ["poison"]
    assert consumers.work == []


def test_stream_records_arrive_in_order_and_a_failed_batch_is_retried(world: World) -> None:
    consumers, dispatcher, env = world
    ddb = boto3.client("dynamodb")
    for n in range(3):
        ddb.put_item(TableName=env["TEST_TABLE"], Item={"pk": {"S": "a"}, "sk": {"S": str(n)}})
    consumers.fail_changes = 1
    assert dispatcher.pump_all() == 0
    assert dispatcher.pump_all() == 3
    assert [r["dynamodb"]["NewImage"]["sk"]["S"] for r in consumers.changes] == ["0", "1", "2"]
    ddb.put_item(TableName=env["TEST_TABLE"], Item={"pk": {"S": "a"}, "sk": {"S": "3"}})
    assert dispatcher.pump_all() == 1
    assert len(consumers.changes) == 4


def test_rate_schedules_run_once_per_period_with_a_scheduled_event(world: World) -> None:
    consumers, dispatcher, _ = world
    start = time.monotonic()
    assert dispatcher.run_due_schedules(start) == []
    assert dispatcher.run_due_schedules(start + 301) == ["sweeper"]
    assert dispatcher.run_due_schedules(start + 302) == []
    assert consumers.ticks[0]["detail-type"] == "Scheduled Event"
    assert dispatcher.run_due_schedules(start + 602) == ["sweeper"]
