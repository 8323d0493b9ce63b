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

from dataclasses import dataclass, field
from typing import Any, Literal

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
    # For "objects": the keys granted, as a pattern under the bucket (every tenant's prefix).
    objects: str = "*"
    # IAM conditions on the statement ({"StringEquals": {key: value}}), when the action
    # alone grants more than the code needs.
    conditions: dict[str, Any] = field(default_factory=dict)


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
# Metric data points are operational records, written 25 a BatchWriteItem (its own action).
BATCH_WRITE = ("dynamodb:BatchWriteItem",)
SECRET_READ = ("secretsmanager:GetSecretValue",)

# PublishBatch is authorized as sns:Publish; an encrypted topic needs its key's data key.
TOPIC_PUBLISH = ("sns:Publish",)
KEY_FOR_PUBLISH = ("kms:GenerateDataKey", "kms:Decrypt")
STREAM_REPLAY = ("dynamodb:GetShardIterator", "dynamodb:GetRecords")
# Webhook signing secrets: sealed by the API (Encrypt), opened by the delivery worker.
SEAL = ("kms:Encrypt",)
OPEN_SEALED = ("kms:Decrypt",)
SEND = ("sqs:SendMessage",)  # SendMessageBatch is authorized as SendMessage

# Artifact objects live under tenants/<tenant>/ (the store scopes every key to the caller's
# tenant); nothing else of the bucket is granted.
TENANT_OBJECTS = "tenants/*"
# What the API handler does to artifact objects, and signs URLs for (a presigned URL is only
# as good as its signer's permission): PutObject covers PUT, CreateMultipartUpload,
# UploadPart and CompleteMultipartUpload; GetObject covers HeadObject and reading the
# current version, GetObjectVersion a named version (the download URL, the digest read).
ARTIFACT_OBJECTS = (
    "s3:PutObject",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
# Without ListBucket, S3 answers a HeadObject of a missing key 403, not 404: "not uploaded
# yet" would read as a permission failure.
ARTIFACT_BUCKET = ("s3:ListBucket",)

# Export files: the API signs download URLs (GetObject); the exporter streams files up
# (PutObject covers the multipart upload's create, parts and completion) and aborts one
# that failed. Under tenants/* of the exports bucket only.
EXPORT_DOWNLOAD = ("s3:GetObject",)
EXPORT_WRITE = ("s3:PutObject", "s3:AbortMultipartUpload")
# The audit chain's anchors (Anchors bucket, Object Lock): a PUT with retention needs
# PutObject and PutObjectRetention, and the conditions hold every PUT to compliance mode
# and at least the EU AI Act's six months, so no role can write an anchor that expires
# early. In compliance mode S3 refuses to shorten a retention or delete a locked version
# to anyone; on top of that no role holds s3:DeleteObjectVersion, s3:BypassGovernanceRetention,
# s3:PutBucketObjectLockConfiguration or s3:PutObjectLegalHold on this bucket
# (tests/infra/test_access.py).
ANCHOR_WRITE = ("s3:PutObject", "s3:PutObjectRetention")
ANCHOR_CONDITIONS: dict[str, Any] = {
    "StringEquals": {"s3:object-lock-mode": "COMPLIANCE"},
    "NumericGreaterThanEquals": {"s3:object-lock-remaining-retention-days": "183"},
}
# Reading anchors back (an audit export): object versions and their listing.
ANCHOR_READ = ("s3:GetObject", "s3:GetObjectVersion")
ANCHOR_LIST = ("s3:ListBucket", "s3:ListBucketVersions")

DELIVERER = (
    Grant("table", "Main", TABLE_READ + TABLE_WRITE),
    Grant("key", "Webhooks", OPEN_SEALED),
    Grant("queue", "WebhookDeliveries", SEND),
    Grant("queue", "WebhookDeliveriesSlow", SEND),
)

ACCESS: dict[str, tuple[Grant, ...]] = {
    "api_handler": (
        Grant("table", "Main", TABLE_READ + TABLE_WRITE + BATCH_WRITE),
        Grant("secret", "PlatformKeyHash", SECRET_READ),
        Grant("secret", "CursorSigningKey", SECRET_READ),
        Grant("objects", "Artifacts", ARTIFACT_OBJECTS, TENANT_OBJECTS),
        Grant("bucket", "Artifacts", ARTIFACT_BUCKET),
        Grant("key", "Webhooks", SEAL),
        Grant("objects", "Exports", EXPORT_DOWNLOAD, TENANT_OBJECTS),
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
    # Pages the tenants (gsi1) and queues one anchoring message per tenant.
    "anchor_audit_chains": (
        Grant("table", "Main", TABLE_READ),
        Grant("queue", "AuditAnchors", SEND),
    ),
    # Reads the tenant's head and policy, writes the anchor locked, records it (+ outbox).
    "anchor_audit_chain": (
        Grant("table", "Main", (*TABLE_READ, "dynamodb:PutItem")),
        Grant("objects", "Anchors", ANCHOR_WRITE, TENANT_OBJECTS, ANCHOR_CONDITIONS),
    ),
    # Reads the object version to verify and records the verdict.
    "verify_artifact": (
        Grant("table", "Main", TABLE_READ + TABLE_WRITE),
        Grant("objects", "Artifacts", ("s3:GetObject", "s3:GetObjectVersion"), TENANT_OBJECTS),
    ),
    # Reads the tenant's subscriptions, stores the deliveries, queues their first attempts.
    "fan_out_webhooks": (
        Grant("table", "Main", TABLE_READ + TABLE_WRITE),
        Grant("queue", "WebhookDeliveries", SEND),
        Grant("queue", "WebhookDeliveriesSlow", SEND),
    ),
    # One attempt: the delivery and its subscription, the secret opened, the retry queued.
    "deliver_webhook": DELIVERER,
    "deliver_webhook_slow": DELIVERER,
    # Pages the tenants and sends one scan message per active tenant.
    "start_compliance_scans": (
        Grant("table", "Main", TABLE_READ),
        Grant("queue", "ComplianceScans", SEND),
    ),
    # One tenant's scan: reads it page by page, commits findings, records progress, and
    # walks the tenant's artifact object versions once (ListObjectVersions is authorized
    # as s3:ListBucketVersions on the bucket).
    "scan_tenant": (
        Grant("table", "Main", TABLE_READ + TABLE_WRITE),
        Grant("bucket", "Artifacts", ("s3:ListBucketVersions",)),
    ),
    # Claims a requested export, reads what its kind needs, streams the file, records it;
    # an audit or evidence export reads the tenant's anchors back from their locked
    # versions (read and list only: no delete, no retention, no lock change).
    "run_export": (
        Grant("table", "Main", TABLE_READ + TABLE_WRITE),
        Grant("objects", "Exports", EXPORT_WRITE, TENANT_OBJECTS),
        Grant("objects", "Anchors", ANCHOR_READ, TENANT_OBJECTS),
        Grant("bucket", "Anchors", ANCHOR_LIST),
    ),
    "sweep_webhook_deliveries": (
        Grant("table", "Main", TABLE_READ),
        Grant("queue", "WebhookDeliveries", SEND),
        Grant("queue", "WebhookDeliveriesSlow", SEND),
    ),
}


def grants_for(function: str) -> tuple[Grant, ...]:
    """The grants of `function`; a function missing from the map gets none (logs only)."""
    return ACCESS.get(function, ())
