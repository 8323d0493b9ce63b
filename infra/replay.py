"""`python -m infra.replay`: re-send what a stream consumer's failure queue points at.

When a stream batch keeps failing, Lambda (and, locally, `infra.dispatch`) gives up on it
after the declared retries and records it on the consumer's failure queue. The record
holds no events, only where the batch was: the shard and the first and last sequence
numbers (`DDBStreamBatchInfo`). This command reads each record, reads that range of the
stream again, hands the records that pass the consumer's filter to the consumer (the
outbox relay re-publishes the outbox events they carry; consumers de-duplicate by event
id), and deletes the failure record once that succeeded. A record whose range has left
the stream (24 hours on DynamoDB) is reported and kept.

    python -m infra.replay                     # every stream consumer's failure queue
    python -m infra.replay --consumer outbox_relay --limit 100

It uses the environment the functions run with (the queue URLs, the table) and the
caller's AWS credentials (`AWS_PROFILE`, or `AWS_ENDPOINT_URL` for the local stack).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import boto3

from infra.resources import RESOURCES, Resources, StreamConsumer


@dataclass
class Replayed:
    records: int = 0  # failure records replayed and deleted
    stream_records: int = 0  # stream records handed to the consumer
    kept: int = 0  # failure records that could not be replayed (kept on the queue)


def stream_range(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream records from `startSequenceNumber` to `endSequenceNumber` of a shard."""
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    found: list[dict[str, Any]] = []
    for _ in range(1000):  # bounded: a batch is at most a few thousand records
        answer = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = answer.get("Records", [])
        for record in records:
            number = int(record["dynamodb"]["SequenceNumber"])
            if number > last:
                return found
            if number >= first:
                found.append(record)
        iterator = answer.get("NextShardIterator")
        if not iterator or not records:
            break
    return found


def replay(
    app: Any,
    session: Any,
    consumer: StreamConsumer,
    env: dict[str, str],
    resources: Resources = RESOURCES,
    limit: int = 1000,
) -> Replayed:
    """Replay up to `limit` failure records of `consumer`'s failure queue."""
    from infra.dispatch import function_handler

    sqs, streams = session.client("sqs"), session.client("dynamodbstreams")
    url = env[resources.queue(consumer.failure_queue).env_var]
    sort_key = resources.table(consumer.table).sort_key
    handler = function_handler(app, consumer.function)
    done = Replayed()
    while done.records + done.kept < limit:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            info = json.loads(message["Body"]).get("DDBStreamBatchInfo") or {}
            try:
                records = [r for r in stream_range(streams, info) if consumer.accepts(r, sort_key)]
                if records:
                    handler({"Records": records}, None)
            except Exception as exc:  # reported and kept for another try
                print(f"kept {message['MessageId']}: {type(exc).__name__}: {exc}", file=sys.stderr)
                done.kept += 1
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            done.records += 1
            done.stream_records += len(records)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consumer", help="one stream consumer's function name")
    parser.add_argument("--limit", type=int, default=1000, help="failure records per consumer")
    args = parser.parse_args(argv)
    from app import app

    session = boto3.session.Session()
    for consumer in RESOURCES.stream_consumers:
        if args.consumer and consumer.function != args.consumer:
            continue
        done = replay(app, session, consumer, dict(os.environ), limit=args.limit)
        print(
            f"{consumer.function}: replayed {done.records} failure records "
            f"({done.stream_records} stream records), kept {done.kept}"
        )


if __name__ == "__main__":
    main()
