"""One table's stream fed to one Lambda function, as Lambda's event source mapping does it.

Each shard is read in order from where the function last got to. The binding's filter
drops records before batching (Lambda does not invoke a function for a batch its filter
emptied). A batch fails when the function raises, or answers a partial batch response
(`{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}`): the shard resumes at
the lowest sequence number reported, so the records before it are not delivered again; an
answer naming no record of the batch fails the whole batch. Failing again at the same
record counts as a retry; after `maximum_retry_attempts` retries (-1: retry forever) the
records from that one on are recorded on the binding's failure queue, in the shape of
Lambda's on-failure destination record for DynamoDB streams, and skipped.

Not done locally: bisecting a failed batch (`bisect_batch_on_error`), the maximum record
age, and the function's timeout.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.lambda_context import Handler, LambdaContext
from infra.queue_pump import reported_failures

log = logging.getLogger("custos.dispatch")

BATCHES_A_PASS = 100  # per shard, so one busy shard cannot hold a pass forever


@dataclass(frozen=True)
class _Failure:
    at: int  # index in the batch of the first record that failed
    function_error: str | None  # "Unhandled" when the function raised


@dataclass
class StreamPump:
    """Feeds one table's stream to one function, shard by shard, in order.

    It remembers where each shard is (the sequence number to resume at or after) and asks
    for a fresh iterator from there on every pass, rather than keeping iterators: on AWS
    they expire after 15 minutes, and moto replaces a table's shard object when it rolls
    back a cancelled transaction, which strands a kept iterator."""

    streams: Any
    sqs: Any
    stream_arn: str
    function: str
    handler: Handler
    failure_queue_url: str
    batch_size: int = 100
    maximum_retry_attempts: int = 10
    starting_position: str = "TRIM_HORIZON"
    accepts: Callable[[dict[str, Any]], bool] = lambda record: True
    function_arn: str = ""
    timeout_seconds: int = 60
    _positions: dict[str, tuple[str, str]] = field(default_factory=dict)
    _attempts: dict[str, tuple[str, int]] = field(default_factory=dict)

    def pump_once(self) -> int:
        """Deliver what the stream holds now; returns the number of records handed over."""
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return sum(self._drain(shard["ShardId"]) for shard in description.get("Shards", []))

    def _iterator(self, shard_id: str) -> str:
        kind, value = self._positions.get(shard_id, (self.starting_position, ""))
        if kind == "ITERATOR":
            return value
        params: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "ShardId": shard_id,
            "ShardIteratorType": kind,
        }
        if value:
            params["SequenceNumber"] = value
        return str(self.streams.get_shard_iterator(**params)["ShardIterator"])

    def _drain(self, shard_id: str) -> int:
        delivered = 0
        iterator: str | None = self._iterator(shard_id)
        for _ in range(BATCHES_A_PASS):
            if not iterator:
                break
            answer = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = answer.get("Records", [])
            iterator = answer.get("NextShardIterator")
            if not records:
                if self.starting_position == "LATEST" and iterator:
                    # Hold on to "the end as it was", or a fresh LATEST iterator on the next
                    # pass would skip whatever arrives in between.
                    self._positions.setdefault(shard_id, ("ITERATOR", iterator))
                break
            wanted = [lambda_record(r, self.stream_arn) for r in records]
            wanted = [r for r in wanted if self.accepts(r)]
            if wanted:
                delivered += len(wanted)
                failure = self._invoke(wanted)
                if failure is not None and not self._give_up(shard_id, wanted, failure):
                    break  # the shard resumes at the failed record on the next pass
            self._attempts.pop(shard_id, None)
            self._positions[shard_id] = ("AFTER_SEQUENCE_NUMBER", _sequence(records[-1]))
        return delivered

    def _invoke(self, records: list[dict[str, Any]]) -> _Failure | None:
        context = LambdaContext.for_invocation(
            self.function, self.function_arn, self.timeout_seconds, str(uuid.uuid4())
        )
        try:
            answer = self.handler({"Records": records}, context)
        except Exception:
            log.exception("%s failed a stream batch of %s", self.function, len(records))
            return _Failure(0, "Unhandled")
        failed = reported_failures(answer)
        if failed == set():
            return None
        numbers = [_sequence(r) for r in records]
        if failed is None or not failed <= set(numbers):
            log.error("%s answered an invalid batchItemFailures: %r", self.function, answer)
            return _Failure(0, None)
        return _Failure(min(numbers.index(n) for n in failed), None)

    def _give_up(self, shard_id: str, records: list[dict[str, Any]], failure: _Failure) -> bool:
        """Count a failed invocation; True when its retries are spent and the failed
        records were recorded on the failure queue (the shard moves past them)."""
        failed = records[failure.at :]
        first = _sequence(failed[0])
        known, count = self._attempts.get(shard_id, ("", 0))
        invocations = count + 1 if known == first else 1
        retries_left = self.maximum_retry_attempts < 0 or invocations <= self.maximum_retry_attempts
        if not retries_left:
            try:
                self._record_failure(shard_id, failed, invocations, failure.function_error)
                return True
            except Exception:
                log.exception("could not record a failed batch of %s; retrying", self.function)
        self._attempts[shard_id] = (first, invocations)
        self._positions[shard_id] = ("AT_SEQUENCE_NUMBER", first)
        return False

    def _record_failure(
        self,
        shard_id: str,
        records: list[dict[str, Any]],
        invocations: int,
        function_error: str | None,
    ) -> None:
        record = failure_record(
            self.stream_arn, shard_id, self.function_arn, records, invocations, function_error
        )
        self.sqs.send_message(QueueUrl=self.failure_queue_url, MessageBody=json.dumps(record))
        log.error(
            "%s gave up on records %s..%s of %s after %s invocations",
            self.function,
            _sequence(records[0]),
            _sequence(records[-1]),
            shard_id,
            invocations,
        )


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda hands it over: its creation time in epoch seconds (boto3
    parses it into a datetime), and the stream's ARN."""
    dynamodb = dict(record.get("dynamodb", {}))
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


def failure_record(
    stream_arn: str,
    shard_id: str,
    function_arn: str,
    records: list[dict[str, Any]],
    invocations: int,
    function_error: str | None,
) -> dict[str, Any]:
    """Lambda's on-failure destination record for a DynamoDB stream batch whose retries
    are spent: where the records are, not the records (replay reads them from the stream)."""
    now = datetime.now(UTC)
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": invocations,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": function_error,
        },
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": _sequence(records[0]),
            "endSequenceNumber": _sequence(records[-1]),
            "approximateArrivalOfFirstRecord": _arrival(records[0]),
            "approximateArrivalOfLastRecord": _arrival(records[-1]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _arrival(record: dict[str, Any]) -> str:
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    moment = datetime.fromtimestamp(created, UTC) if created is not None else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
