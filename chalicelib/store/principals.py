"""Principals of a tenant and their API keys."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo, keys

Item = dict[str, Any]


def get(tenant_id: str, principal_id: str) -> Item | None:
    return dynamo.get(keys.principal_key(tenant_id, principal_id))


def put_new(tenant_id: str, principal: Item) -> dict[str, Any]:
    key = keys.principal_key(tenant_id, principal["id"])
    return dynamo.create_op(key, {"tenant_id": tenant_id, **principal})


def put_replace(tenant_id: str, principal: Item, expected_revision: int) -> dict[str, Any]:
    key = keys.principal_key(tenant_id, principal["id"])
    return dynamo.replace_op(key, {"tenant_id": tenant_id, **principal}, expected_revision)


def check_active(tenant_id: str, principal_id: str) -> dict[str, Any]:
    """A transaction op asserting the principal exists in the tenant and is active."""
    return dynamo.check_op(
        keys.principal_key(tenant_id, principal_id),
        "attribute_exists(pk) AND #status = :active",
        names={"#status": "status"},
        values={":active": "active"},
    )


def list_page(
    tenant_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[Item], dict[str, Any] | None]:
    return dynamo.query(
        partition=("pk", keys.tenant_pk(tenant_id)),
        sort_prefix=("sk", keys.PRINCIPAL_PREFIX),
        limit=limit,
        start_key=start,
    )


def count_admins(tenant_id: str, delta: int) -> dict[str, Any]:
    """A transaction op moving the tenant's count of active admins by `delta`.

    Taking one away is refused when it would leave none: the condition holds even
    when two admins demote each other at the same moment.
    """
    return dynamo.update_op(
        keys.admin_count_key(tenant_id),
        "ADD #n :delta",
        "#n > :one" if delta < 0 else None,
        names={"#n": "active_admins"},
        values={":delta": delta, ":one": 1} if delta < 0 else {":delta": delta},
    )


def get_key(key_id: str) -> Item | None:
    """An API key's lookup item by key id alone (authentication does not know the tenant)."""
    return dynamo.get(keys.api_key_key(key_id))


def get_tenant_key(tenant_id: str, key_id: str) -> Item | None:
    """An API key of `tenant_id`; another tenant's key is None, exactly as a missing one."""
    item = get_key(key_id)
    return item if item and item.get("tenant_id") == tenant_id else None


def put_new_key(tenant_id: str, key: Item) -> dict[str, Any]:
    return dynamo.put_op(
        {
            **keys.api_key_key(key["id"]),
            "gsi1pk": keys.api_keys_gsi_pk(tenant_id),
            "gsi1sk": key["id"],
            "tenant_id": tenant_id,
            **key,
        },
        "attribute_not_exists(pk)",
    )


def revoke_key(tenant_id: str, key_id: str, revoked_at: str) -> dict[str, Any]:
    return dynamo.update_op(
        keys.api_key_key(key_id),
        "SET #revoked = :at",
        "#tenant = :tenant AND attribute_not_exists(#revoked)",
        names={"#revoked": "revoked_at", "#tenant": "tenant_id"},
        values={":at": revoked_at, ":tenant": tenant_id},
    )


def list_keys_page(
    tenant_id: str, limit: int, start: dict[str, Any] | None, principal_id: str | None = None
) -> tuple[list[Item], dict[str, Any] | None]:
    filter_expression = "#principal = :principal" if principal_id else None
    return dynamo.query(
        partition=("gsi1pk", keys.api_keys_gsi_pk(tenant_id)),
        index="gsi1",
        limit=limit,
        start_key=start,
        filter_expression=filter_expression,
        names={"#principal": "principal_id"} if principal_id else None,
        values={":principal": principal_id} if principal_id else None,
    )
