"""Test-only access to a DynamoDB table inside in-process moto: read every item as it is
stored, and put the whole table back as it was.

Fault tests compare a table before and after a request byte for byte, and start each
case from the same state. moto keeps a table as one Python object and itself restores
a cancelled transaction by swapping in a deep copy; `restore` does the same.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

ItemKey = tuple[str, str]  # (pk, sk)
Snapshot = dict[ItemKey, str]  # key -> the item's attributes as canonical JSON


def _backend(region: str) -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]


def snapshot(table_name: str, region: str = "us-east-1") -> Snapshot:
    """Every item of the table, as DynamoDB-typed JSON (a scan that moto does not see)."""
    table = _backend(region).tables[table_name]
    found: Snapshot = {}
    for item in table.all_items():
        attributes = item.to_json()["Attributes"]
        key = (attributes["pk"]["S"], attributes.get("sk", {}).get("S", ""))
        found[key] = json.dumps(attributes, sort_keys=True)
    return found


def capture(table_name: str, region: str = "us-east-1", *, stream: bool = True) -> Any:
    """The whole table (items, indexes and, unless `stream` is False, the records on its
    stream), to `restore` later. moto copies the whole table, stream records included,
    for every item of every transaction: a case that reads no stream runs faster
    without them."""
    captured = copy.deepcopy(_backend(region).tables[table_name])
    if not stream and captured.stream_shard is not None:
        captured.stream_shard.items = []
    return captured


def restore(table_name: str, captured: Any, region: str = "us-east-1") -> None:
    """Put the table back as `capture` found it (the captured copy stays reusable)."""
    _backend(region).tables[table_name] = copy.deepcopy(captured)


def replace_value(table_name: str, old: str, new: str, region: str = "us-east-1") -> int:
    """Give every top-level string attribute equal to `old` the value `new`, in place (no
    stream record, as `restore`); returns how many attributes changed."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    changed = 0
    for item in _backend(region).tables[table_name].all_items():
        for name, value in list(item.attrs.items()):
            if value.type == "S" and value.value == old:
                item.attrs[name] = DynamoType({"S": new})
                changed += 1
    return changed
