"""A tenant's principals and API keys, and the key lookup authentication needs."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo, keys
from chalicelib.store.keys import TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]


def lookup_key(key_id: str) -> Item | None:
    """An API key's lookup item by key id alone: authentication does not know the tenant
    yet, and takes it from the item."""
    return dynamo.get(keys.api_key_key(key_id))


class Principals:
    """Principals and API keys of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def get(self, principal_id: str) -> Item | None:
        return dynamo.get(self.keys.principal(principal_id))

    def get_many(self, principal_ids: list[str]) -> list[Item]:
        """The principals that exist among `principal_ids` (one BatchGetItem)."""
        unique = list(dict.fromkeys(principal_ids))
        return dynamo.batch_get([self.keys.principal(p) for p in unique])

    def put_new(self, principal: Item) -> dict[str, Any]:
        key = self.keys.principal(principal["id"])
        return dynamo.create_op(key, {"tenant_id": self.tenant_id, **principal})

    def put_replace(self, principal: Item, expected_revision: int) -> dict[str, Any]:
        key = self.keys.principal(principal["id"])
        return dynamo.replace_op(key, {"tenant_id": self.tenant_id, **principal}, expected_revision)

    def check_active(self, principal_id: str, role: str | None = None) -> dict[str, Any]:
        """A transaction op asserting the principal exists in the tenant, is active and,
        when `role` is given, holds it."""
        condition = "attribute_exists(pk) AND #status = :active"
        names = {"#status": "status"}
        values: dict[str, Any] = {":active": "active"}
        if role is not None:
            condition += " AND contains(#roles, :role)"
            names["#roles"], values[":role"] = "roles", role
        return dynamo.check_op(
            self.keys.principal(principal_id), condition, names=names, values=values
        )

    def list_page(self, limit: int, start: dict[str, Any] | None) -> Page:
        return dynamo.query(partition=("pk", self.keys.principals), limit=limit, start_key=start)

    def count_admins(self, delta: int) -> dict[str, Any]:
        """A transaction op moving the tenant's count of active admins by `delta`.

        Taking one away is refused when it would leave none: the condition holds even
        when two admins demote each other at the same moment.
        """
        return dynamo.update_op(
            self.keys.admin_count(),
            "ADD #n :delta",
            "#n > :one" if delta < 0 else None,
            names={"#n": "active_admins"},
            values={":delta": delta, ":one": 1} if delta < 0 else {":delta": delta},
        )

    # --- API keys ----------------------------------------------------------------

    def get_key(self, key_id: str) -> Item | None:
        """An API key of this tenant; another tenant's key is None, exactly as a missing one."""
        item = lookup_key(key_id)
        return item if item and item.get("tenant_id") == self.tenant_id else None

    def put_new_key(self, key: Item) -> dict[str, Any]:
        return dynamo.put_op(
            {
                **keys.api_key_key(key["id"]),
                "gsi1pk": self.keys.api_keys_index,
                "gsi1sk": key["id"],
                "tenant_id": self.tenant_id,
                **key,
            },
            "attribute_not_exists(pk)",
        )

    def revoke_key(self, key_id: str, revoked_at: str) -> dict[str, Any]:
        return dynamo.update_op(
            keys.api_key_key(key_id),
            "SET #revoked = :at",
            "#tenant = :tenant AND attribute_not_exists(#revoked)",
            names={"#revoked": "revoked_at", "#tenant": "tenant_id"},
            values={":at": revoked_at, ":tenant": self.tenant_id},
        )

    def check_key_usable(self, key_id: str) -> dict[str, Any]:
        """A transaction op asserting one of this tenant's keys is still unrevoked."""
        return dynamo.check_op(
            keys.api_key_key(key_id),
            "#tenant = :tenant AND attribute_not_exists(#revoked)",
            names={"#revoked": "revoked_at", "#tenant": "tenant_id"},
            values={":tenant": self.tenant_id},
        )

    def list_keys_page(
        self, limit: int, start: dict[str, Any] | None, principal_id: str | None = None
    ) -> Page:
        filter_expression = "#principal = :principal" if principal_id else None
        return dynamo.query(
            partition=("gsi1pk", self.keys.api_keys_index),
            index="gsi1",
            limit=limit,
            start_key=start,
            filter_expression=filter_expression,
            names={"#principal": "principal_id"} if principal_id else None,
            values={":principal": principal_id} if principal_id else None,
        )
