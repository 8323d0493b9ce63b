"""Operational records: what the system keeps to do its work, outside the audit chain.

Delivery attempts, scan progress, metric data points and workflow task tokens are not
governance facts: they change often, nobody decides them, and an examiner needs what they
cause (a finding, a decision, an escalation), which is audited through a unit of work. So
they are written here with single conditional writes, never in the chain, yet always under
the tenant's own keys (a store bound to the tenant builds them) and, where they are only
useful for a while, with a TTL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.store import dynamo
from chalicelib.store.aws_errors import is_transient, unavailable
from chalicelib.store.keys import PENDING_CALLBACKS_GSI_PK, TenantKeys

Item = dict[str, Any]


class Operational:
    """Operational records of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def put_task_token(
        self, request_id: str, stage: int, token: str, at: str, keep: timedelta
    ) -> bool:
        """Keep the workflow's task token for a stage; False when one is kept already.

        The first token wins: a redelivered message carries the same token, and a second
        execution of the same stage never exists (executions are named by the request)."""
        key = self.keys.task_token(request_id, stage)
        expires = int((datetime.fromisoformat(at) + keep).timestamp())
        return self._put_new(
            {
                **key,
                "tenant_id": self.tenant_id,
                "request_id": request_id,
                "stage": stage,
                "task_token": token,
                "stored_at": at,
                "expires_at": expires,
            }
        )

    def get_task_token(self, request_id: str, stage: int) -> Item | None:
        return dynamo.get(self.keys.task_token(request_id, stage))

    def owe_callback(self, request_id: str, stage: int, outcome: str, at: str) -> None:
        """Mark the stage's token as owed `outcome`, listed in the sparse pending-callback
        index until `callback_done`, so the reconciler retries a callback that was lost."""
        self._update(
            self.keys.task_token(request_id, stage),
            "SET #owed = :outcome, #owed_at = :at, #gpk = :gpk, #gsk = :gsk",
            {
                "#owed": "owed_outcome",
                "#owed_at": "owed_at",
                "#gpk": "gsi1pk",
                "#gsk": "gsi1sk",
            },
            {
                ":outcome": outcome,
                ":at": at,
                ":gpk": PENDING_CALLBACKS_GSI_PK,
                ":gsk": f"{at}#{self.tenant_id}#{request_id}#{stage:02d}",
            },
        )

    def callback_done(self, request_id: str, stage: int, at: str, result: str) -> None:
        """Take the token off the pending-callback index: answered, or closed by the
        workflow (`result` says which)."""
        self._update(
            self.keys.task_token(request_id, stage),
            "SET #result = :result, #done = :at REMOVE #gpk, #gsk",
            {"#result": "callback", "#done": "answered_at", "#gpk": "gsi1pk", "#gsk": "gsi1sk"},
            {":result": result, ":at": at},
        )

    def _put_new(self, item: Item) -> bool:
        try:
            dynamo.client("dynamodb").put_item(
                TableName=dynamo.table_name(),
                Item=dynamo.serialize(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            if is_transient(exc):
                raise unavailable(exc) from exc
            raise
        return True

    def _update(
        self, key: dict[str, str], update: str, names: dict[str, str], values: dict[str, Any]
    ) -> None:
        try:
            dynamo.client("dynamodb").update_item(
                TableName=dynamo.table_name(),
                Key=dynamo.serialize(key),
                UpdateExpression=update,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=dynamo.serialize(values),
            )
        except ClientError as exc:
            if is_transient(exc):
                raise unavailable(exc) from exc
            raise


def owed_callbacks(older_than: str, pages: int = 10) -> list[Item]:
    """Task tokens owed a callback since before `older_than`, across tenants (the sparse
    pending-callback index; each item names its tenant)."""
    found: list[Item] = []
    start = None
    for _ in range(pages):
        items, start = dynamo.query(
            partition=("gsi1pk", PENDING_CALLBACKS_GSI_PK),
            sort_between=("gsi1sk", "0", older_than),
            index="gsi1",
            limit=100,
            start_key=start,
        )
        found.extend(items)
        if not start:
            break
    return found
