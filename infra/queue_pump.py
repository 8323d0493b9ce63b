"""One SQS queue fed to one Lambda function, as Lambda's event source mapping does it.

A receive hands the function an SQS event whose records are shaped as Lambda shapes them.
The function answers with Lambda's partial batch response (`ReportBatchItemFailures`):
`{"batchItemFailures": [{"itemIdentifier": <messageId>}, …]}`. The messages that succeeded
are deleted; the failed ones are left alone, so they come back after the queue's
visibility timeout and, after its `maxReceiveCount` receives, the queue's redrive policy
moves them to its dead-letter queue (SQS does that on receive, moto too). A function that
raises, or that names a message not in the batch, fails the whole batch.
"""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from infra.lambda_context import Handler, LambdaContext

log = logging.getLogger("custos.dispatch")

SQS_MAX_BATCH = 10  # what one ReceiveMessage and one DeleteMessageBatch take


@dataclass
class QueuePump:
    """Feeds one queue to one function: one receive, one invocation, one delete a pass."""

    sqs: Any
    queue_url: str
    queue_arn: str
    function: str
    handler: Handler
    batch_size: int = 10
    timeout_seconds: int = 60
    function_arn: str = ""

    def pump_once(self, wait_seconds: int = 0) -> int:
        """Receive a batch (long-polling up to `wait_seconds`) and invoke the function with
        it; returns the number of messages handed to the function."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, SQS_MAX_BATCH),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        records = [self.record(m) for m in messages]
        failed = self._invoke(records)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._delete(done)
        return len(messages)

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One SQS message as a record of the event Lambda hands the function."""
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.queue_arn.split(":")[3],
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _invoke(self, records: list[dict[str, Any]]) -> set[str]:
        """Invoke the function; returns the ids of the messages that failed."""
        ids = {r["messageId"] for r in records}
        context = LambdaContext.for_invocation(
            self.function, self.function_arn, self.timeout_seconds, str(uuid.uuid4())
        )
        try:
            answer = self.handler({"Records": records}, context)
        except Exception:
            log.exception("%s failed a batch of %s; none is deleted", self.function, len(ids))
            return ids
        failed = reported_failures(answer)
        if failed is None or not failed <= ids:
            log.error("%s answered an invalid batchItemFailures: %r", self.function, answer)
            return ids
        return failed

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        answer = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        for failure in answer.get("Failed", []):
            # The message comes back after its visibility timeout: at least once, as on AWS.
            log.warning("could not delete a message of %s: %s", self.function, failure)


def reported_failures(answer: Any) -> set[str] | None:
    """The item identifiers of a partial batch response; an empty set when the answer
    reports none (complete success), None when it is malformed (complete failure)."""
    if not isinstance(answer, dict) or not answer.get("batchItemFailures"):
        return set()
    failures = answer["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    found: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return None
        found.add(identifier)
    return found


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute in Lambda's camelCase shape (binary values base64-encoded)."""
    shaped: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [
            base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])
        ],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return shaped
