"""Reading a tenant's audit chain and its verification checkpoint."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.store import dynamo
from chalicelib.store.keys import MAX_SEQ, TenantKeys, audit_event_sk

Item = dict[str, Any]


class AuditLog:
    """The audit chain of the tenant `keys` is bound to (written only by the writer)."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys

    def list_page(
        self, limit: int, start: dict[str, Any] | None, from_seq: int = 1
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """One page of audit events in sequence order, from `from_seq` on."""
        return dynamo.query(
            partition=("pk", self.keys.audit),
            sort_between=("sk", audit_event_sk(from_seq), audit_event_sk(MAX_SEQ)),
            limit=limit,
            start_key=start,
            consistent=True,
        )

    def head(self) -> Item | None:
        return dynamo.get(self.keys.audit_head())

    def checkpoint(self) -> Item | None:
        return dynamo.get(self.keys.audit_checkpoint())

    def save_checkpoint(self, seq: int, hash_: str, verified_at: str) -> None:
        """Move the checkpoint forward only (a slower verifier never moves it back).

        Derived state, outside the chain: it records where the last good verification
        reached, and changes nothing a tenant owns."""
        try:
            dynamo.client("dynamodb").put_item(
                TableName=dynamo.table_name(),
                Item=dynamo.serialize(
                    {
                        **self.keys.audit_checkpoint(),
                        "seq": seq,
                        "hash": hash_,
                        "verified_at": verified_at,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR #seq < :seq",
                ExpressionAttributeNames={"#seq": "seq"},
                ExpressionAttributeValues=dynamo.serialize({":seq": seq}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
