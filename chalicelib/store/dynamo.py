"""Thin typed access to the one DynamoDB table, with AWS errors translated at the edge."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.bootstrap import client
from chalicelib.config import settings
from chalicelib.errors import PayloadTooLargeError
from chalicelib.store.aws_errors import busy, is_transient, unavailable

Item = dict[str, Any]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class TransactionCancelledError(Exception):
    """A TransactWriteItems was cancelled; `reasons[i]` is item i's code or None."""

    def __init__(self, reasons: list[str | None]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"

    @property
    def contended(self) -> bool:
        return any(r == "TransactionConflict" for r in self.reasons)

    @property
    def throttled(self) -> bool:
        return any(r in ("ThrottlingError", "ProvisionedThroughputExceeded") for r in self.reasons)


def serialize(values: Mapping[str, Any]) -> dict[str, Any]:
    """Python values to DynamoDB attribute values; None values are left out, and floats
    are stored as the decimal numbers they print as (`_plain` reads them back)."""
    return {k: _serializer.serialize(_storable(v)) for k, v in values.items() if v is not None}


def _storable(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def deserialize(item: Mapping[str, Any]) -> Item:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _ddb() -> Any:
    return client("dynamodb")


def table_name() -> str:
    return settings().table


def _raise_translated(exc: ClientError) -> None:
    """Raise DynamoDB's transient and size errors as domain errors a client can act on."""
    if is_transient(exc):
        raise unavailable(exc) from exc
    error = exc.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    if error.get("Code") == "ValidationException" and "item size" in message:
        raise PayloadTooLargeError("the object would exceed the 400 KB item limit") from exc


def get(key: Mapping[str, str], *, consistent: bool = True) -> Item | None:
    """One GetItem; None when the item does not exist."""
    try:
        answer = _ddb().get_item(
            TableName=table_name(), Key=serialize(key), ConsistentRead=consistent
        )
    except ClientError as exc:
        _raise_translated(exc)
        raise
    raw = answer.get("Item")
    return deserialize(raw) if raw else None


def batch_get(
    keys: list[Mapping[str, str]],
    *,
    consistent: bool = True,
    projection: tuple[str, ...] = (),
) -> list[Item]:
    """One BatchGetItem for up to 100 keys (unprocessed keys are retried); with
    `projection`, only those attributes of each item (and its keys)."""
    if not keys:
        return []
    table: dict[str, Any] = {"Keys": [serialize(k) for k in keys], "ConsistentRead": consistent}
    if projection:
        table.update(_projection(("pk", "sk", *projection)))
    request: dict[str, Any] = {table_name(): table}
    found: list[Item] = []
    for attempt in range(5):
        try:
            answer = _ddb().batch_get_item(RequestItems=request)
        except ClientError as exc:
            _raise_translated(exc)
            raise
        found.extend(deserialize(i) for i in answer.get("Responses", {}).get(table_name(), []))
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return found
        time.sleep(random.uniform(0, 0.05 * 2**attempt))  # DynamoDB asks for backoff here
    # A partial answer would read as "these items do not exist".
    raise busy()


BATCH_WRITE = 25  # items a BatchWriteItem takes


def batch_put(items: Sequence[Mapping[str, Any]]) -> None:
    """Put `items` (operational records, no conditions) with BatchWriteItem, 25 a call;
    items DynamoDB leaves unprocessed are sent again with backoff, a few times, then the
    write is a 503 (what was written stays: putting the same items again is harmless).
    The keys of one call must be distinct."""
    for start in range(0, len(items), BATCH_WRITE):
        chunk = items[start : start + BATCH_WRITE]
        request: dict[str, Any] = {
            table_name(): [{"PutRequest": {"Item": serialize(i)}} for i in chunk]
        }
        for attempt in range(5):
            try:
                answer = _ddb().batch_write_item(RequestItems=request)
            except ClientError as exc:
                _raise_translated(exc)
                raise
            request = answer.get("UnprocessedItems") or {}
            if not request:
                break
            time.sleep(random.uniform(0, 0.05 * 2**attempt))  # DynamoDB asks for backoff here
        else:
            raise busy()


def query(
    *,
    partition: tuple[str, str],
    sort_prefix: tuple[str, str] | None = None,
    sort_between: tuple[str, str, str] | None = None,
    index: str | None = None,
    limit: int = 100,
    start_key: dict[str, Any] | None = None,
    filter_expression: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    forward: bool = True,
    consistent: bool = False,
    projection: tuple[str, ...] = (),
) -> tuple[list[Item], dict[str, Any] | None]:
    """One Query page: (items, LastEvaluatedKey in DynamoDB's typed form or None); with
    `projection`, only those attributes of each item (a smaller answer, the same reads)."""
    attr_names = {"#pk": partition[0], **(names or {})}
    attr_values: dict[str, Any] = {":pk": partition[1], **(values or {})}
    condition = "#pk = :pk"
    if sort_prefix:
        attr_names["#sk"] = sort_prefix[0]
        attr_values[":skp"] = sort_prefix[1]
        condition += " AND begins_with(#sk, :skp)"
    elif sort_between:
        attr_names["#sk"] = sort_between[0]
        attr_values[":lo"], attr_values[":hi"] = sort_between[1], sort_between[2]
        condition += " AND #sk BETWEEN :lo AND :hi"
    params: dict[str, Any] = {
        "TableName": table_name(),
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": attr_names,
        "ExpressionAttributeValues": serialize(attr_values),
        "Limit": limit,
        "ScanIndexForward": forward,
    }
    if index:
        params["IndexName"] = index
    elif consistent:
        params["ConsistentRead"] = True
    if start_key:
        params["ExclusiveStartKey"] = start_key
    if filter_expression:
        params["FilterExpression"] = filter_expression
    if projection:
        named = _projection(projection)
        params["ProjectionExpression"] = named["ProjectionExpression"]
        params["ExpressionAttributeNames"].update(named["ExpressionAttributeNames"])
    try:
        answer = _ddb().query(**params)
    except ClientError as exc:
        _raise_translated(exc)
        raise
    return [deserialize(i) for i in answer.get("Items", [])], answer.get("LastEvaluatedKey")


def _projection(attributes: tuple[str, ...]) -> dict[str, Any]:
    """A ProjectionExpression of top-level `attributes`, each through a name placeholder
    (`#p0`, …: some are reserved words, such as `status`)."""
    names = {f"#p{i}": name for i, name in enumerate(dict.fromkeys(attributes))}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def put_if(
    item: Mapping[str, Any],
    condition: str,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """One conditional PutItem outside any transaction (operational records); False when
    the condition failed."""
    params: dict[str, Any] = {
        "TableName": table_name(),
        "Item": serialize(item),
        "ConditionExpression": condition,
    }
    if names:
        params["ExpressionAttributeNames"] = dict(names)
    if values:
        params["ExpressionAttributeValues"] = serialize(values)
    return _conditional(_ddb().put_item, params)


def update_if(
    key: Mapping[str, str],
    update: str,
    names: Mapping[str, str],
    values: Mapping[str, Any] | None = None,
    condition: str | None = None,
) -> bool:
    """One UpdateItem outside any transaction (operational records); False when its
    `condition` failed."""
    params: dict[str, Any] = {
        "TableName": table_name(),
        "Key": serialize(key),
        "UpdateExpression": update,
        "ExpressionAttributeNames": dict(names),
    }
    if values:
        params["ExpressionAttributeValues"] = serialize(values)
    if condition:
        params["ConditionExpression"] = condition
    return _conditional(_ddb().update_item, params)


def update_returning(
    key: Mapping[str, str], update: str, names: Mapping[str, str], values: Mapping[str, Any]
) -> Item:
    """One unconditional UpdateItem; returns the item as it is after it."""
    try:
        answer = _ddb().update_item(
            TableName=table_name(),
            Key=serialize(key),
            UpdateExpression=update,
            ExpressionAttributeNames=dict(names),
            ExpressionAttributeValues=serialize(values),
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        _raise_translated(exc)
        raise
    return deserialize(answer["Attributes"])


def _conditional(call: Any, params: dict[str, Any]) -> bool:
    try:
        call(**params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        if is_transient(exc):
            raise unavailable(exc) from exc
        raise
    return True


def transact(items: Iterable[dict[str, Any]]) -> None:
    """One TransactWriteItems; cancellation raises TransactionCancelledError with reasons."""
    try:
        _ddb().transact_write_items(TransactItems=list(items))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code != "TransactionCanceledException":
            _raise_translated(exc)
            raise
        reasons = [
            (r.get("Code") if r.get("Code") not in (None, "None") else None)
            for r in exc.response.get("CancellationReasons", [])
        ]
        raise TransactionCancelledError(reasons) from exc


def put_op(
    item: Mapping[str, Any],
    condition: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Put for a transaction, optionally conditional."""
    op: dict[str, Any] = {"TableName": table_name(), "Item": serialize(item)}
    _add_condition(op, condition, {"names": names, "values": values})
    return {"Put": op}


def create_op(key: Mapping[str, str], item: Mapping[str, Any]) -> dict[str, Any]:
    """A Put that creates the item at `key` and fails if it exists."""
    return put_op({**key, **item}, "attribute_not_exists(pk)")


def replace_op(
    key: Mapping[str, str], item: Mapping[str, Any], revision: int, *, draft_only: bool = False
) -> dict[str, Any]:
    """A Put replacing the item at `key` only if it is still at `revision` (the ETag read)."""
    condition = "#rev = :rev"
    names: dict[str, str] = {"#rev": "revision"}
    values: dict[str, Any] = {":rev": revision}
    if draft_only:
        condition += " AND #status = :draft"
        names["#status"], values[":draft"] = "status", "draft"
    return put_op({**key, **item}, condition, names=names, values=values)


def update_op(
    key: Mapping[str, str],
    update: str,
    condition: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "TableName": table_name(),
        "Key": serialize(key),
        "UpdateExpression": update,
    }
    _add_condition(op, condition, {"names": names, "values": values})
    return {"Update": op}


def check_op(
    key: Mapping[str, str],
    condition: str,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": table_name(), "Key": serialize(key)}
    _add_condition(op, condition, {"names": names, "values": values})
    return {"ConditionCheck": op}


def _add_condition(op: dict[str, Any], condition: str | None, expr: Mapping[str, Any]) -> None:
    if condition:
        op["ConditionExpression"] = condition
    if expr.get("names"):
        op["ExpressionAttributeNames"] = dict(expr["names"])
    if expr.get("values"):
        op["ExpressionAttributeValues"] = serialize(expr["values"])
