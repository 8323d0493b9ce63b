"""Tenant items (`T#<tenant>` / `TENANT`), listed for the platform through gsi1."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import TENANTS_GSI_PK, TenantKeys

Item = dict[str, Any]


def get(tenant_id: str) -> Item | None:
    """The tenant's item, or None."""
    return dynamo.get(TenantKeys(tenant_id).tenant())


def _indexed(tenant: Item) -> Item:
    return {"gsi1pk": TENANTS_GSI_PK, "gsi1sk": tenant["id"], **tenant}


def put_new(tenant: Item) -> dict[str, Any]:
    """A transaction op creating the tenant (fails if the id exists)."""
    return dynamo.create_op(TenantKeys(tenant["id"]).tenant(), _indexed(tenant))


def put_replace(tenant: Item, expected_revision: int) -> dict[str, Any]:
    """A transaction op replacing the tenant if its revision is still `expected_revision`."""
    key = TenantKeys(tenant["id"]).tenant()
    return dynamo.replace_op(key, _indexed(tenant), expected_revision)


def list_page(limit: int, start: dict[str, Any] | None) -> tuple[list[Item], dict[str, Any] | None]:
    """One page of all tenants, oldest first (platform only)."""
    return dynamo.query(
        partition=("gsi1pk", TENANTS_GSI_PK), index="gsi1", limit=limit, start_key=start
    )
