"""Who may call what: the one per-function access map of the deployed stack.

Each Lambda function gets its own role with exactly the grants listed here
(plus writing to its own log group). A grant names a resource by its logical id
in `infra/resources.py`; the stack turns it into ARNs. When code starts calling
a new AWS API, add the action here: the stack, the least-privilege tests and
the drift test all read this map.

Permissions that an event-source binding needs by construction (reading the
table stream for a `StreamConsumer`, receiving from the queue for a
`QueueConsumer`, sending failed batches to the binding's failure queue) are
added by the binding itself, in `infra/cdk/functions.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GrantKind = Literal[
    "table", "bucket", "objects", "queue", "secret", "key", "state_machine", "executions", "topic"
]


@dataclass(frozen=True)
class Grant:
    """`actions` on the resource `target` (a logical id in RESOURCES).

    kind "table" covers the table and its indexes; "objects" is the objects of
    a bucket (`arn/*`), "bucket" the bucket itself (listing, versions); "executions" the
    executions of a state machine (where task tokens are answered).
    """

    kind: GrantKind
    target: str
    actions: tuple[str, ...]


# Reads are keyed: GetItem, BatchGetItem, Query. Scan is never granted to a
# request handler (lists are Queries inside one tenant's key space).
TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
# TransactWriteItems is authorized per item with the item-level actions.
TABLE_WRITE = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
)
SECRET_READ = ("secretsmanager:GetSecretValue",)

# PublishBatch is authorized as sns:Publish; an encrypted topic needs its key's data key.
TOPIC_PUBLISH = ("sns:Publish",)
KEY_FOR_PUBLISH = ("kms:GenerateDataKey", "kms:Decrypt")
STREAM_REPLAY = ("dynamodb:GetShardIterator", "dynamodb:GetRecords")

ACCESS: dict[str, tuple[Grant, ...]] = {
    "api_handler": (
        Grant("table", "Main", TABLE_READ + TABLE_WRITE),
        Grant("secret", "PlatformKeyHash", SECRET_READ),
        Grant("secret", "CursorSigningKey", SECRET_READ),
    ),
    "outbox_relay": (
        Grant("topic", "DomainEvents", TOPIC_PUBLISH),
        Grant("key", "Events", KEY_FOR_PUBLISH),
    ),
    "start_approval_workflow": (Grant("state_machine", "approval", ("states:StartExecution",)),),
    "apply_workflow_message": (Grant("table", "Main", TABLE_READ + TABLE_WRITE),),
    "reconcile_callbacks": (
        Grant("table", "Main", TABLE_READ + TABLE_WRITE),
        Grant("executions", "approval", ("states:SendTaskSuccess",)),
    ),
    "verify_audit_chains": (Grant("table", "Main", (*TABLE_READ, "dynamodb:PutItem")),),
}


def grants_for(function: str) -> tuple[Grant, ...]:
    """The grants of `function`; a function missing from the map gets none (logs only)."""
    return ACCESS.get(function, ())
