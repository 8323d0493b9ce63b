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

from chalicelib.store import dynamo
from chalicelib.store.keys import PENDING_CALLBACKS_GSI_PK, TenantKeys

Item = dict[str, Any]


class Operational:
    """Operational records of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def put_task_token(
        self,
        request_id: str,
        stage: int,
        token: str,
        at: str,
        keep: timedelta,
        attempt: int = 0,
    ) -> bool:
        """Keep the workflow's task token for a stage's `attempt` (0 when it opens, 1 once
        it escalates); False when that attempt's token is kept already.

        The first token of an attempt wins: a redelivered message carries the same token,
        and a second execution of the request never exists (it is named by the request).
        An escalation's token replaces the opening's, which the workflow has closed."""
        key = self.keys.task_token(request_id, stage)
        expires = int((datetime.fromisoformat(at) + keep).timestamp())
        item = {
            **key,
            "tenant_id": self.tenant_id,
            "request_id": request_id,
            "stage": stage,
            "attempt": attempt,
            "task_token": token,
            "stored_at": at,
            "expires_at": expires,
        }
        condition = "attribute_not_exists(pk) OR #attempt < :attempt"
        return self._put_new(item, condition, {"#attempt": "attempt"}, {":attempt": attempt})

    def get_task_token(self, request_id: str, stage: int) -> Item | None:
        return dynamo.get(self.keys.task_token(request_id, stage))

    def _owing(
        self, request_id: str, stage: int, outcome: str, at: str
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        return (
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

    def owe_callback(self, request_id: str, stage: int, outcome: str, at: str) -> None:
        """Mark the stage's token as owed `outcome`, listed in the sparse pending-callback
        index until `callback_done`, so the reconciler retries a callback that was lost."""
        self._update(
            self.keys.task_token(request_id, stage), *self._owing(request_id, stage, outcome, at)
        )

    def owe_callback_op(self, request_id: str, stage: int, outcome: str, at: str) -> dict[str, Any]:
        """`owe_callback` as an operation of a unit of work: the decision that closes a stage
        and the callback it owes commit together, so neither is ever without the other."""
        update, names, values = self._owing(request_id, stage, outcome, at)
        return dynamo.update_op(
            self.keys.task_token(request_id, stage),
            update,
            "attribute_exists(pk)",
            names=names,
            values=values,
        )

    def callback_done(self, request_id: str, stage: int, token: str, at: str, result: str) -> None:
        """Take the token off the pending-callback index: answered, or closed by the
        workflow (`result` says which). Only if the record still holds `token`: an
        escalation may have replaced it meanwhile with one still owed an answer."""
        self._update(
            self.keys.task_token(request_id, stage),
            "SET #result = :result, #done = :at REMOVE #gpk, #gsk",
            {
                "#result": "callback",
                "#done": "answered_at",
                "#gpk": "gsi1pk",
                "#gsk": "gsi1sk",
                "#token": "task_token",
            },
            {":result": result, ":at": at, ":token": token},
            condition="#token = :token",
        )

    def _put_new(
        self, item: Item, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        return dynamo.put_if(item, condition, names, values)

    def _update(
        self,
        key: dict[str, str],
        update: str,
        names: dict[str, str],
        values: dict[str, Any],
        condition: str | None = None,
    ) -> bool:
        """One UpdateItem; False when its `condition` failed."""
        return dynamo.update_if(key, update, names, values, condition)


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
