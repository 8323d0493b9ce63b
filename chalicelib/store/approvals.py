"""Approval requests, in the tenant's approval partition, and the inbox: while a stage of a
request is open, its item also sits in the tenant's partition of gsi1 (`T#<t>#INBOX`,
sorted by deadline) with the stage's role and who may not decide it, so an approver's
inbox is one Query of the open requests only, however many the tenant has closed."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]


class Approvals:
    """Approval requests of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def get(self, request_id: str) -> Item | None:
        return dynamo.get(self.keys.approval(request_id))

    def _item(self, request: Item) -> Item:
        item = {**self.keys.approval(request["id"]), "tenant_id": self.tenant_id, **request}
        stage = next((s for s in request["stages"] if s["status"] == "open"), None)
        if stage is not None:
            deciders = [d["principal_id"] for s in request["stages"] for d in s["decisions"]]
            item |= {
                "gsi1pk": self.keys.inbox,
                "gsi1sk": f"{stage['deadline']}#{request['id']}",
                "open_role": stage["role"],
                "cannot_decide": sorted({*request["ineligible_ids"], *deciders}),
            }
        return item

    def put_new(self, request: Item) -> dict[str, Any]:
        return dynamo.put_op(self._item(request), "attribute_not_exists(pk)")

    def put_replace(self, request: Item, expected_revision: int) -> dict[str, Any]:
        """Replace the request if nobody changed it since `expected_revision` was read."""
        return dynamo.put_op(
            self._item(request),
            "#rev = :rev",
            names={"#rev": "revision"},
            values={":rev": expected_revision},
        )

    def list_page(self, limit: int, start: dict[str, Any] | None, filters: dict[str, str]) -> Page:
        """A page of the tenant's requests, newest first, optionally by status or model."""
        clauses = [f"#{name} = :{name}" for name in filters]
        return dynamo.query(
            partition=("pk", self.keys.approvals),
            limit=limit,
            start_key=start,
            filter_expression=" AND ".join(clauses) or None,
            names={f"#{name}": name for name in filters} or None,
            values={f":{name}": value for name, value in filters.items()} or None,
            forward=False,
        )

    def open_stage_page(self, limit: int, start: dict[str, Any] | None) -> Page:
        """A page of the tenant's requests with a stage open, whoever may decide it, most
        urgent first (the compliance scan looks for stalled ones)."""
        return dynamo.query(
            partition=("gsi1pk", self.keys.inbox), index="gsi1", limit=limit, start_key=start
        )

    def inbox_page(
        self, limit: int, start: dict[str, Any] | None, roles: list[str], principal_id: str
    ) -> Page:
        """A page of the requests whose open stage `principal_id` may decide: the stage's
        role is one of `roles`, and the principal neither is ineligible nor has decided a
        stage of it. Most urgent (earliest deadline) first."""
        placeholders = {f":role{i}": role for i, role in enumerate(roles)}
        return dynamo.query(
            partition=("gsi1pk", self.keys.inbox),
            index="gsi1",
            limit=limit,
            start_key=start,
            filter_expression=(
                f"#role IN ({', '.join(placeholders)}) AND NOT contains(#cannot, :me)"
            ),
            names={"#role": "open_role", "#cannot": "cannot_decide"},
            values={**placeholders, ":me": principal_id},
        )
