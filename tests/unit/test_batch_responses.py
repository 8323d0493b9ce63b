"""A queue consumer's answer decides which messages are deleted, as Lambda reads a partial
batch response (ReportBatchItemFailures)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.queue_pump import QueuePump, reported_failures

ARN = "arn:aws:sqs:eu-west-1:111122223333:work"


class FakeSqs:
    """Hands out the given messages once and records what is deleted."""

    def __init__(self, ids: list[str]) -> None:
        self.messages = [
            {"MessageId": i, "ReceiptHandle": f"rh-{i}", "Body": i, "Attributes": {}} for i in ids
        ]
        self.deleted: list[str] = []

    def receive_message(self, **_: Any) -> dict[str, Any]:
        messages, self.messages = self.messages, []
        return {"Messages": messages}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.deleted += [e["ReceiptHandle"].removeprefix("rh-") for e in Entries]
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def deleted_after(answer: Any) -> list[str]:
    sqs = FakeSqs(["m1", "m2", "m3"])

    def handler(event: dict[str, Any], context: Any) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    QueuePump(sqs, "url", ARN, "work", handler).pump_once()
    return sqs.deleted


@pytest.mark.parametrize(
    ("answer", "deleted"),
    [
        (None, ["m1", "m2", "m3"]),
        ({}, ["m1", "m2", "m3"]),
        ({"batchItemFailures": []}, ["m1", "m2", "m3"]),
        ({"batchItemFailures": None}, ["m1", "m2", "m3"]),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ["m1", "m3"]),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}, ["m2"]),
        # a complete failure: the function raised, or its answer cannot be trusted
        (RuntimeError("down"), []),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, []),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, []),
        ({"batchItemFailures": [{"itemIdentifer": "m2"}]}, []),  # a misspelt key
        ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, []),
        ({"batchItemFailures": "m2"}, []),
    ],
)
def test_the_consumers_answer_decides_which_messages_are_deleted(
    answer: Any, deleted: list[str]
) -> None:
    assert deleted_after(answer) == deleted


def test_an_empty_receive_invokes_nothing() -> None:
    calls: list[Any] = []
    pump = QueuePump(FakeSqs([]), "url", ARN, "work", lambda e, c: calls.append(e))
    assert pump.pump_once() == 0
    assert calls == []


def test_binary_attributes_reach_the_function_base64_encoded_as_lambda_sends_them() -> None:
    pump = QueuePump(FakeSqs([]), "url", ARN, "work", lambda e, c: None)
    record = pump.record(
        {
            "MessageId": "m1",
            "ReceiptHandle": "rh",
            "Body": "{}",
            "MessageAttributes": {"blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
        }
    )
    assert record["messageAttributes"]["blob"] == {
        "binaryValue": "AAE=",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert record["awsRegion"] == "eu-west-1" and record["eventSourceARN"] == ARN


def test_a_report_with_no_failures_reads_as_complete_success() -> None:
    assert reported_failures({"batchItemFailures": []}) == set()
    assert reported_failures("ok") == set()
