"""Approval requests, in the tenant's approval partition."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys

Item = dict[str, Any]


class Approvals:
    """Approval requests of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def get(self, request_id: str) -> Item | None:
        return dynamo.get(self.keys.approval(request_id))

    def put_new(self, request: Item) -> dict[str, Any]:
        key = self.keys.approval(request["id"])
        return dynamo.create_op(key, {"tenant_id": self.tenant_id, **request})

    def put_replace(self, request: Item, expected_revision: int) -> dict[str, Any]:
        key = self.keys.approval(request["id"])
        return dynamo.replace_op(key, {"tenant_id": self.tenant_id, **request}, expected_revision)
