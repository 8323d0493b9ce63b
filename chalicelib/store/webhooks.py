"""Webhook subscriptions (governed: changed through units of work) and their deliveries
(operational: single conditional writes, outside the audit chain).

A delivery with an attempt to come sits in gsi1 under `WEBHOOKS#DUE#<shard>`, sorted by
the attempt's time; the sweeper reads what is due from there, across tenants (each item
names its tenant). Delivered and failed deliveries leave the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import (
    DELIVERY_PREFIX,
    DUE_DELIVERY_SHARDS,
    TenantKeys,
    due_deliveries_pk,
    due_shard,
)

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]


class Webhooks:
    """The webhook subscriptions and deliveries of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    # --- subscriptions (operations for a unit of work) ---------------------------------

    def get(self, webhook_id: str) -> Item | None:
        return dynamo.get(self.keys.webhook(webhook_id))

    def put_new(self, item: Item) -> dict[str, Any]:
        return dynamo.create_op(
            self.keys.webhook(item["id"]), {"tenant_id": self.tenant_id, **item}
        )

    def put_replace(self, item: Item, revision: int) -> dict[str, Any]:
        key = self.keys.webhook(item["id"])
        return dynamo.replace_op(key, {"tenant_id": self.tenant_id, **item}, revision)

    def delete(self, webhook_id: str, revision: int) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": dynamo.table_name(),
                "Key": dynamo.serialize(self.keys.webhook(webhook_id)),
                "ConditionExpression": "#rev = :rev",
                "ExpressionAttributeNames": {"#rev": "revision"},
                "ExpressionAttributeValues": dynamo.serialize({":rev": revision}),
            }
        }

    def check_enabled(self, webhook_id: str) -> dict[str, Any]:
        """A condition check: the subscription exists and is enabled."""
        return dynamo.check_op(
            self.keys.webhook(webhook_id),
            "#enabled = :yes",
            names={"#enabled": "enabled"},
            values={":yes": True},
        )

    def forget_health(self, webhook_id: str) -> dict[str, Any]:
        """Clear the failing-since record (re-enabled or deleted: it starts afresh)."""
        return {
            "Delete": {
                "TableName": dynamo.table_name(),
                "Key": dynamo.serialize(self.keys.webhook_health(webhook_id)),
            }
        }

    def list_page(self, limit: int, start: dict[str, Any] | None) -> Page:
        """A page of the subscriptions, oldest first."""
        return dynamo.query(
            partition=("pk", self.keys.webhooks), limit=limit, start_key=start, consistent=True
        )

    def all_subscriptions(self, pages: int = 10) -> list[Item]:
        """Every subscription of the tenant (a few pages at most: a tenant keeps dozens)."""
        found: list[Item] = []
        start = None
        for _ in range(pages):
            items, start = self.list_page(100, start)
            found.extend(items)
            if not start:
                break
        return found

    # --- deliveries (operational) --------------------------------------------------------

    def get_delivery(self, webhook_id: str, delivery_id: str) -> Item | None:
        return dynamo.get(self.keys.delivery(webhook_id, delivery_id))

    def for_attempt(self, webhook_id: str, delivery_id: str) -> tuple[Item | None, ...]:
        """The delivery, its subscription and the subscription's health, in one BatchGetItem."""
        keys: list[Mapping[str, str]] = [
            self.keys.delivery(webhook_id, delivery_id),
            self.keys.webhook(webhook_id),
            self.keys.webhook_health(webhook_id),
        ]
        found = {(i["pk"], i["sk"]): i for i in dynamo.batch_get(keys)}
        return tuple(found.get((k["pk"], k["sk"])) for k in keys)

    def deliveries_page(
        self, webhook_id: str, limit: int, start: dict[str, Any] | None, status: str | None
    ) -> Page:
        """A page of a subscription's deliveries, newest first, optionally of one status."""
        return dynamo.query(
            partition=("pk", self.keys.webhook_log(webhook_id)),
            sort_prefix=("sk", DELIVERY_PREFIX),
            limit=limit,
            start_key=start,
            forward=False,
            filter_expression="#status = :status" if status else None,
            names={"#status": "status"} if status else None,
            values={":status": status} if status else None,
        )

    def stored_delivery(self, delivery: Item) -> Item:
        """The delivery as stored: with its due-index keys while an attempt is to come."""
        item = {
            **self.keys.delivery(delivery["webhook_id"], delivery["id"]),
            "tenant_id": self.tenant_id,
            **delivery,
        }
        item.pop("gsi1pk", None)
        item.pop("gsi1sk", None)
        if delivery.get("next_attempt_at"):
            item["gsi1pk"] = due_deliveries_pk(due_shard(delivery["id"]))
            item["gsi1sk"] = (
                f"{delivery['next_attempt_at']}#{self.tenant_id}#"
                f"{delivery['webhook_id']}#{delivery['id']}"
            )
        return item

    def create_delivery(self, delivery: Item) -> bool:
        """Store a new delivery; False when it exists (a redelivered fan-out message)."""
        return dynamo.put_if(self.stored_delivery(delivery), "attribute_not_exists(pk)")

    def claim(self, delivery: Item, lease_until: str, now: str, holder: str) -> bool:
        """Hold the delivery for one attempt until `lease_until`, if no attempt was recorded
        since it was read and nobody else holds it: a lease lapses, and the same message
        coming back (its last run failed) may take its own lease again."""
        return dynamo.update_if(
            self.keys.delivery(delivery["webhook_id"], delivery["id"]),
            "SET #lease = :lease, #holder = :holder",
            {"#lease": "lease_until", "#holder": "lease_holder", "#count": "attempt_count"},
            {
                ":lease": lease_until,
                ":holder": holder,
                ":count": delivery["attempt_count"],
                ":now": now,
            },
            "#count = :count AND (attribute_not_exists(#lease) OR #lease < :now"
            " OR #holder = :holder)",
        )

    def release(self, delivery: Item, lease_until: str) -> bool:
        """Let go of a claim that came to nothing, so the message's redelivery may try."""
        return dynamo.update_if(
            self.keys.delivery(delivery["webhook_id"], delivery["id"]),
            "REMOVE #lease",
            {"#lease": "lease_until"},
            {":lease": lease_until},
            "#lease = :lease",
        )

    def record(self, delivery: Item, expected_count: int) -> bool:
        """Replace the delivery with its next state, if no other attempt was recorded."""
        return dynamo.put_if(
            self.stored_delivery(delivery),
            "attribute_exists(pk) AND #count = :count",
            {"#count": "attempt_count"},
            {":count": expected_count},
        )

    def redeliver(self, delivery: Item, now: str) -> dict[str, Any]:
        """An operation for a unit of work: the delivery with its next attempt brought to
        now, if no attempt is in flight and none was recorded since it was read."""
        return dynamo.put_op(
            self.stored_delivery(delivery),
            "#count = :count AND (attribute_not_exists(#lease) OR #lease < :now)",
            names={"#count": "attempt_count", "#lease": "lease_until"},
            values={":count": delivery["attempt_count"], ":now": now},
        )

    # --- health ----------------------------------------------------------------------------

    def health_of(self, webhook_ids: list[str]) -> dict[str, Item]:
        """The health records of these subscriptions (those that have one), by id."""
        keys: list[Mapping[str, str]] = [self.keys.webhook_health(w) for w in webhook_ids]
        found: dict[str, Item] = {}
        for start in range(0, len(keys), 100):
            for item in dynamo.batch_get(keys[start : start + 100]):
                found[str(item["pk"]).rsplit("#", 1)[1]] = item
        return found

    def failed_at(self, webhook_id: str, at: str, slow_until: str) -> str:
        """Note a failed attempt (the subscription is in the slow lane until `slow_until`);
        returns since when it has been failing."""
        health = dynamo.update_returning(
            self.keys.webhook_health(webhook_id),
            "SET #since = if_not_exists(#since, :at), #last = :at, #slow = :slow",
            {"#since": "failing_since", "#last": "last_failure_at", "#slow": "slow_until"},
            {":at": at, ":slow": slow_until},
        )
        return str(health["failing_since"])

    def slow_at(self, webhook_id: str, at: str, slow_until: str) -> None:
        """Note a delivered but slow attempt: the slow lane until `slow_until`."""
        dynamo.update_if(
            self.keys.webhook_health(webhook_id),
            "SET #last = :at, #slow = :slow REMOVE #since",
            {"#last": "last_success_at", "#slow": "slow_until", "#since": "failing_since"},
            {":at": at, ":slow": slow_until},
        )

    def succeeded_at(self, webhook_id: str, at: str) -> None:
        """Note a delivered, quick attempt: neither failing nor slow any more."""
        dynamo.update_if(
            self.keys.webhook_health(webhook_id),
            "SET #last = :at REMOVE #since, #slow",
            {"#last": "last_success_at", "#since": "failing_since", "#slow": "slow_until"},
            {":at": at},
        )


def due_deliveries(now: str, per_shard: int = 500) -> list[Item]:
    """Deliveries whose next attempt is due by `now`, across tenants, oldest first within
    each shard (at most `per_shard` of each: the sweeper comes back a minute later)."""
    found: list[Item] = []
    for shard in range(DUE_DELIVERY_SHARDS):
        start = None
        taken: list[Item] = []
        while len(taken) < per_shard:
            items, start = dynamo.query(
                partition=("gsi1pk", due_deliveries_pk(shard)),
                sort_between=("gsi1sk", "0", f"{now}#~"),
                index="gsi1",
                limit=min(100, per_shard - len(taken)),
                start_key=start,
            )
            taken.extend(items)
            if not start:
                break
        found.extend(taken)
    return found
