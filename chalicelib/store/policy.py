"""The tenant's approval policy: the version in force (`CURRENT`) and every version, in the
tenant's policy partition. A change writes the new version and moves `CURRENT` in one
transaction, conditioned on the version it replaces."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import POLICY_VERSION_PREFIX, TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]


class Policies:
    """The policy versions of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def current(self) -> Item | None:
        """The version in force; None while the tenant runs on the defaults."""
        return dynamo.get(self.keys.policy_current())

    def put_current(self, policy: Item, replacing: int | None) -> dict[str, Any]:
        """Make `policy` the one in force, if `replacing` is still (None: none is stored)."""
        item = {**self.keys.policy_current(), "tenant_id": self.tenant_id, **policy}
        if replacing is None:
            return dynamo.put_op(item, "attribute_not_exists(pk)")
        return dynamo.put_op(
            item,
            "#version = :version",
            names={"#version": "version"},
            values={":version": replacing},
        )

    def put_version(self, policy: Item) -> dict[str, Any]:
        """Keep a version; versions are never rewritten."""
        key = self.keys.policy_version(int(policy["version"]))
        return dynamo.create_op(key, {"tenant_id": self.tenant_id, **policy})

    def list_page(self, limit: int, start: dict[str, Any] | None) -> Page:
        """A page of the versions, oldest first."""
        return dynamo.query(
            partition=("pk", self.keys.policies),
            sort_prefix=("sk", POLICY_VERSION_PREFIX),
            limit=limit,
            start_key=start,
        )
