"""Export records, in the tenant's export partition (`T#<t>#EXPORT`, by id: newest last).

The record is made in the unit of work that requests the export (audited); its progress
after that is an operational record, moved by single conditional writes: the exporter
claims a queued export (or one whose run's lease ran out) under a run id of its own, and
only that run may complete, fail or release it, so a redelivered message, or a second
exporter racing the first, never writes it twice.
"""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]
_MINE = "#status = :running AND #run = :run"


class Exports:
    """The exports of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def get(self, export_id: str) -> Item | None:
        return dynamo.get(self.keys.export(export_id))

    def put_new(self, export: Item) -> dict[str, Any]:
        """Create a queued export (for a unit of work)."""
        item = {"tenant_id": self.tenant_id, **export}
        return dynamo.create_op(self.keys.export(export["id"]), item)

    def list_page(self, limit: int, start: dict[str, Any] | None) -> Page:
        """A page of the tenant's exports, newest first."""
        return dynamo.query(
            partition=("pk", self.keys.exports), limit=limit, start_key=start, forward=False
        )

    def claim(
        self, export_id: str, run_id: str, at: str, lease_until: str, message: tuple[str, int]
    ) -> bool:
        """Start a run of a queued export, of a running one whose lease ran out, or of one
        an earlier receive of the same message (`message`: its id and receive count) was
        running: SQS hands a message out again only once its visibility timeout (six times
        the function's) has passed, so that run is over. False when the export is done, or
        another run holds it."""
        message_id, receives = message
        return dynamo.update_if(
            self.keys.export(export_id),
            "SET #status = :running, #run = :run, #lease = :lease, #started = :at,"
            " #msg = :msg, #recv = :recv, #runs = if_not_exists(#runs, :zero) + :one",
            {
                "#status": "status",
                "#run": "run_id",
                "#lease": "lease_until",
                "#started": "started_at",
                "#msg": "run_message_id",
                "#recv": "run_receive_count",
                "#runs": "runs",
            },
            {
                ":running": "running",
                ":queued": "queued",
                ":run": run_id,
                ":lease": lease_until,
                ":at": at,
                ":msg": message_id,
                ":recv": receives,
                ":zero": 0,
                ":one": 1,
            },
            "attribute_exists(pk) AND (#status = :queued OR (#status = :running AND"
            " (#lease < :at OR (#msg = :msg AND #recv < :recv))))",
        )

    def complete(self, export_id: str, run_id: str, at: str, written: Item) -> bool:
        """Record the run's file (`written`: row_count, byte_size, sha256, object_key);
        False if the run no longer holds the export."""
        names = {"#status": "status", "#run": "run_id", "#done": "completed_at"}
        values: dict[str, Any] = {":running": "running", ":run": run_id, ":at": at}
        sets = ["#status = :completed", "#done = :at"]
        values[":completed"] = "completed"
        for n, (name, value) in enumerate(written.items()):
            names[f"#w{n}"], values[f":w{n}"] = name, value
            sets.append(f"#w{n} = :w{n}")
        update = "SET " + ", ".join(sets) + " REMOVE #lease"
        names["#lease"] = "lease_until"
        return dynamo.update_if(self.keys.export(export_id), update, names, values, _MINE)

    def fail(self, export_id: str, run_id: str, at: str, reason: str) -> bool:
        """Record that the run failed for good, and why."""
        return dynamo.update_if(
            self.keys.export(export_id),
            "SET #status = :failed, #reason = :reason, #done = :at REMOVE #lease",
            {
                "#status": "status",
                "#run": "run_id",
                "#reason": "failure_reason",
                "#done": "completed_at",
                "#lease": "lease_until",
            },
            {
                ":failed": "failed",
                ":reason": reason,
                ":at": at,
                ":running": "running",
                ":run": run_id,
            },
            _MINE,
        )

    def release(self, export_id: str, run_id: str) -> bool:
        """Hand the export back to the queue (the run failed; its message will come back)."""
        return dynamo.update_if(
            self.keys.export(export_id),
            "SET #status = :queued REMOVE #lease",
            {"#status": "status", "#run": "run_id", "#lease": "lease_until"},
            {":queued": "queued", ":running": "running", ":run": run_id},
            _MINE,
        )
