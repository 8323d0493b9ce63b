"""Reading the audit chain and its verification checkpoint."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.store import dynamo, keys

Item = dict[str, Any]


def list_page(
    tenant_id: str, limit: int, start: dict[str, Any] | None, from_seq: int = 1
) -> tuple[list[Item], dict[str, Any] | None]:
    """One page of audit events in sequence order, from `from_seq` on."""
    return dynamo.query(
        partition=("pk", keys.tenant_pk(tenant_id)),
        sort_between=("sk", keys.audit_event_sk(from_seq), keys.audit_event_sk(10**12 - 1)),
        limit=limit,
        start_key=start,
        consistent=True,
    )


def head(tenant_id: str) -> Item | None:
    return dynamo.get(keys.audit_head_key(tenant_id))


def checkpoint(tenant_id: str) -> Item | None:
    return dynamo.get(keys.audit_checkpoint_key(tenant_id))


def save_checkpoint(tenant_id: str, seq: int, hash_: str, verified_at: str) -> None:
    """Move the checkpoint forward only (a slower verifier never moves it back)."""
    try:
        dynamo.client("dynamodb").put_item(
            TableName=dynamo.table_name(),
            Item=dynamo.serialize(
                {
                    **keys.audit_checkpoint_key(tenant_id),
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
