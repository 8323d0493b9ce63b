"""The local stack's moto patches keep moto's answers: transactions commit or leave no trace,
and queries find the same items in the same order, without touching the whole table."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from infra import moto_patches


@pytest.fixture
def table(aws: dict[str, str]) -> str:
    return aws["CUSTOS_TABLE"]


@pytest.fixture
def patched() -> None:
    """The patches in force (the suite installs them for every test: tests/conftest.py)."""
    moto_patches.install()


@contextmanager
def unpatched() -> Iterator[None]:
    """moto as it is released, for the length of the block."""
    moto_patches.uninstall()
    try:
        yield
    finally:
        moto_patches.install()


def _moto_table(name: str) -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[name]


def _items(name: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for item in _moto_table(name).all_items():
        attributes = item.to_json()["Attributes"]
        found[(attributes["pk"]["S"], attributes["sk"]["S"])] = attributes
    return found


def _put(name: str, pk: str, sk: str, **extra: str) -> None:
    item = {"pk": {"S": pk}, "sk": {"S": sk}} | {k: {"S": v} for k, v in extra.items()}
    boto3.client("dynamodb").put_item(TableName=name, Item=item)


def _transact(name: str, head_seq: str) -> None:
    """Put a new item, update the head if its seq is `head_seq`, delete an old item."""
    boto3.client("dynamodb").transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "T#a"}, "sk": {"S": "NEW"}}}},
            {
                "Update": {
                    "TableName": name,
                    "Key": {"pk": {"S": "T#a"}, "sk": {"S": "HEAD"}},
                    "UpdateExpression": "SET seq = :new",
                    "ConditionExpression": "seq = :old",
                    "ExpressionAttributeValues": {":new": {"S": "2"}, ":old": {"S": head_seq}},
                }
            },
            {"Delete": {"TableName": name, "Key": {"pk": {"S": "T#a"}, "sk": {"S": "OLD"}}}},
        ]
    )


@pytest.mark.usefixtures("patched")
def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(table: str) -> None:
    # GIVEN a head at seq 1 and an item to delete
    _put(table, "T#a", "HEAD", seq="1")
    _put(table, "T#a", "OLD")
    before, stream = _items(table), len(_moto_table(table).stream_shard.items)
    held = _moto_table(table)

    # WHEN a transaction's head condition fails after its put has been applied
    with pytest.raises(Exception, match="TransactionCanceled"):
        _transact(table, head_seq="0")

    # THEN nothing of it remains, in the table or in its stream, and the table was not
    # swapped for a copy (moto's own way, which costs a copy of the whole table)
    assert _moto_table(table) is held
    assert _items(table) == before
    assert len(_moto_table(table).stream_shard.items) == stream
    # AND the same transaction with the right seq commits all of it
    _transact(table, head_seq="1")
    after = _items(table)
    assert after[("T#a", "HEAD")]["seq"] == {"S": "2"}
    assert ("T#a", "NEW") in after and ("T#a", "OLD") not in after


@pytest.mark.usefixtures("patched")
def test_a_table_still_deep_copies_outside_a_transaction(table: str) -> None:
    _put(table, "T#a", "X", v="1")
    copied = copy.deepcopy(_moto_table(table))
    _put(table, "T#a", "X", v="2")
    assert copied.items is not _moto_table(table).items
    assert len(copied.all_items()) == 1
    assert copied.all_items()[0].attrs["v"].value == "1"


def _queries(name: str) -> list[list[dict[str, Any]]]:
    ddb = boto3.client("dynamodb")
    pages = []
    for forward in (True, False):
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = ddb.query(
                TableName=name,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
                ExpressionAttributeValues={":pk": {"S": "T#b"}, ":p": {"S": "M#"}},
                Limit=3,
                ScanIndexForward=forward,
                **extra,
            )
            pages.append(page["Items"])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    by_index = ddb.query(
        TableName=name,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "KEYS"}},
    )
    return [*pages, by_index["Items"]]


def test_queries_answer_as_moto_does_without_the_patch(table: str) -> None:
    # GIVEN items in several partitions, some of them in the index
    for n in range(8):
        for pk in ("T#a", "T#b", "T#c"):
            extra = {"gsi1pk": "KEYS", "gsi1sk": f"{pk}{n}"} if n % 3 == 0 else {}
            _put(table, pk, f"M#{n}", **extra)
        _put(table, "T#b", f"X#{n}")

    # WHEN the same queries run with and without the patch
    with unpatched():
        plain = _queries(table)
    fast = _queries(table)

    # THEN the pages are the same, in the same order
    assert fast == plain
    assert [len(p) for p in plain] == [3, 3, 2, 3, 3, 2, 9]


@pytest.mark.usefixtures("aws", "patched")
def test_queues_still_send_count_and_deduplicate() -> None:
    sqs = boto3.client("sqs")
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName="dedup.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]

    sqs.send_message_batch(
        QueueUrl=plain, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(3)]
    )
    for _ in range(2):
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")

    def count(url: str) -> str:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return str(attributes["Attributes"]["ApproximateNumberOfMessages"])

    assert count(plain) == "3"
    assert count(fifo) == "1"  # the second send was a duplicate by content
