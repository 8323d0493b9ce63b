"""A relay batch that exhausted its retries is re-sent from its failure record."""

from __future__ import annotations

import json

import boto3

from infra.replay import replay
from infra.resources import RESOURCES
from tests.conftest import Api, Tenant, new_model
from tests.harness.tap import EventTap


def failure_record(env: dict[str, str]) -> dict[str, object]:
    """A Lambda on-failure record naming every record now on the table's stream."""
    ddb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=env["CUSTOS_TABLE"])["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "version": "1.0",
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": numbers[0],
            "endSequenceNumber": numbers[-1],
            "batchSize": len(numbers),
            "streamArn": arn,
        },
    }


def test_replay_republishes_the_outbox_events_a_failure_record_covers_and_deletes_it(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    from app import app

    # GIVEN committed changes whose relay batch failed for good (nothing was published)
    model = new_model(api, tenant)
    session = boto3.session.Session()
    tap = EventTap(session, aws["CUSTOS_EVENTS_TOPIC_ARN"])
    (relay,) = RESOURCES.stream_consumers
    failures = aws[RESOURCES.queue(relay.failure_queue).env_var]
    boto3.client("sqs").send_message(QueueUrl=failures, MessageBody=json.dumps(failure_record(aws)))
    # WHEN the operator replays the relay's failure queue
    done = replay(app, session, relay, aws)
    # THEN every outbox event of the range is published, and the record is gone
    published = tap.take()
    assert "model.created" in [e["type"] for e in published]
    assert model["id"] in {e["data"].get("id") for e in published}
    assert (done.records, done.kept) == (1, 0)
    assert boto3.client("sqs").receive_message(QueueUrl=failures).get("Messages") is None


def test_a_failure_record_whose_range_cannot_be_read_is_kept(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    from app import app

    (relay,) = RESOURCES.stream_consumers
    failures = aws[RESOURCES.queue(relay.failure_queue).env_var]
    record = failure_record(aws)
    record["DDBStreamBatchInfo"]["shardId"] = "shardId-gone"  # type: ignore[index]
    boto3.client("sqs").send_message(QueueUrl=failures, MessageBody=json.dumps(record))
    done = replay(app, boto3.session.Session(), relay, aws, limit=1)
    assert (done.records, done.kept) == (0, 1)
