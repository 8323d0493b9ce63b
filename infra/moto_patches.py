"""Costs of moto that grow with the data, cut for the local stack's server.

`make run` keeps one table for every tenant, and it grows with every request (audit
events, outbox and idempotency records); the events queue, which nothing consumes
locally yet, grows with every change. moto pays for all of it on requests that touch a
few items:

- **TransactWriteItems** deep-copies every table it touches, to swap the copy back in
  when the transaction is cancelled: about 60 ms per 1,000 items (3 s at 20,000, stream
  records included) on every write, and moto keeps a reference to every model object it
  ever made, so the copies are never freed. Here the backup of a table is a no-op while
  a transaction runs; an undo log keeps each item the transaction may write as it was,
  and the length of the table's stream. A cancelled transaction puts those items back
  and drops the stream records it appended.
- **Query** sorts every item of the table and filters them for the partition. Here a
  table query looks at its partition only, and an index query skips the sort (its
  results are sorted by the index's keys afterwards).
- **SendMessage** reads one attribute of the queue (content-based deduplication) by
  computing all of them, message counts included: a pass over every message in the
  queue for each message sent. Here it computes that one attribute.
- Every request lists moto's package directory to tell a service name from a host;
  here the list is made once.

The DynamoDB ones rely on DynamoDB requests (streams included) being applied one at a
time, as `infra.local` serves them. `install()` patches moto in this process; the test
suite installs it too (tests/conftest.py), its in-process moto reached by one thread at a
time (or through the `atomic_aws` fixture, one request at a time).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto import backends
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.sqs.models import Queue, SQSBackend

_state = threading.local()
_WRITES = ("Put", "Update", "Delete")
_INDEX_NAME_ARG = 6  # Table.query(hash_key, ..., projection_expressions, index_name, ...)
_originals: dict[str, Callable[..., Any]] = {}


@dataclass
class _Saved:
    table: Table
    hash_value: DynamoType
    range_value: DynamoType | None
    item: Item | None  # the object the table held (None: no item)
    attrs: Any  # a deep copy of its attributes: an update changes the object in place


class UndoLog:
    """What a transaction may change, as it was before; `rollback` restores it."""

    def __init__(self, backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        self.saved: list[_Saved] = []
        self.streams: dict[str, tuple[Table, Any, int]] = {}
        for entry in transact_items:
            for kind, op in entry.items():
                if kind in _WRITES and op.get("TableName") in backend.tables:
                    self._save(backend.tables[op["TableName"]], op.get("Item") or op.get("Key"))

    def _save(self, table: Table, key: dict[str, Any] | None) -> None:
        try:
            hash_value = DynamoType(key[table.hash_key_attr])  # type: ignore[index]
            range_attr = table.range_key_attr
            range_value = DynamoType(key[range_attr]) if range_attr else None  # type: ignore[index]
            item = table.get_item(hash_value, range_value)
        except Exception:  # a malformed key: moto refuses it before writing anything
            return
        attrs = copy.deepcopy(item.attrs) if item is not None else None
        self.saved.append(_Saved(table, hash_value, range_value, item, attrs))
        shard = table.stream_shard
        if shard is not None and table.name not in self.streams:
            self.streams[table.name] = (table, shard, len(shard.items))

    def rollback(self) -> None:
        for saved in reversed(self.saved):
            table = saved.table
            holder: dict[Any, Any] = (
                table.items[saved.hash_value] if saved.range_value else table.items
            )
            slot = saved.range_value if saved.range_value else saved.hash_value
            if saved.item is None:
                holder.pop(slot, None)
            else:
                saved.item.attrs = saved.attrs
                holder[slot] = saved.item
        for table, shard, length in self.streams.values():
            table.stream_shard = shard
            del shard.items[length:]


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    undo = UndoLog(self, transact_items)
    _state.in_transaction = True
    try:
        _originals["transact_write_items"](self, transact_items)
    except BaseException:
        undo.rollback()
        raise
    finally:
        _state.in_transaction = False


def _deepcopy_table(table: Table, memo: dict[int, Any]) -> Table:
    if getattr(_state, "in_transaction", False):
        return table  # the transaction's undo log stands in for the copy
    clone: Any = type(table).__new__(type(table))
    memo[id(table)] = clone
    clone.__dict__.update(copy.deepcopy(table.__dict__, memo))
    return clone


def _query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    index_name = args[_INDEX_NAME_ARG] if len(args) > _INDEX_NAME_ARG else kwargs.get("index_name")
    if index_name:
        _state.scope = ("unsorted", None)
    elif self.range_key_attr and hash_key is not None:
        _state.scope = ("partition", hash_key)
    try:
        return _originals["query"](self, hash_key, *args, **kwargs)
    finally:
        _state.scope = None


def _all_items(self: Table) -> list[Item]:
    scope = getattr(_state, "scope", None)
    if scope is None:
        return _originals["all_items"](self)
    _state.scope = None  # only the query's own call
    kind, hash_key = scope
    if kind == "partition":
        return list(self.items[hash_key].values()) if hash_key in self.items else []
    items: list[Any] = []
    for held in self.items.values():
        items.extend(held.values() if self.range_key_attr else [held])
    return items


def _send_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
    sending = getattr(_state, "sending", False)
    _state.sending = True
    try:
        return _originals["send_message"](self, *args, **kwargs)
    finally:
        _state.sending = sending


def _queue_attributes(self: Queue) -> dict[str, Any]:
    if not getattr(_state, "sending", False):
        return _originals["queue_attributes"](self)
    if not self.fifo_queue:
        return {}
    value = self.content_based_deduplication  # type: ignore[attr-defined]
    return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}


def install() -> None:
    """Patch moto (in this process) as the module docstring says."""
    if _originals:
        return
    _originals.update(
        transact_write_items=DynamoDBBackend.transact_write_items,
        query=Table.query,
        all_items=Table.all_items,
        send_message=SQSBackend.send_message,
        queue_attributes=Queue.attributes.fget,  # type: ignore[attr-defined]
        list_of_moto_modules=backends.list_of_moto_modules,
    )
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    Table.__deepcopy__ = _deepcopy_table  # type: ignore[attr-defined]
    SQSBackend.send_message = _send_message  # type: ignore[method-assign]
    Queue.attributes = property(_queue_attributes)  # type: ignore[assignment,method-assign]
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def uninstall() -> None:
    """Put moto back as it was (tests)."""
    if not _originals:
        return
    DynamoDBBackend.transact_write_items = _originals.pop("transact_write_items")  # type: ignore[method-assign]
    Table.query = _originals.pop("query")  # type: ignore[method-assign]
    Table.all_items = _originals.pop("all_items")  # type: ignore[method-assign]
    del Table.__deepcopy__  # type: ignore[attr-defined]
    SQSBackend.send_message = _originals.pop("send_message")  # type: ignore[method-assign]
    Queue.attributes = property(_originals.pop("queue_attributes"))  # type: ignore[assignment,method-assign]
    backends.list_of_moto_modules = _originals.pop("list_of_moto_modules")
