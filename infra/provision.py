"""Create the resources of `infra/resources.py` through boto3 (moto locally and in tests).

The names are derived from a prefix; `provision` returns the environment
variables that point the app at them (each resource's `env_var`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import boto3

from infra.resources import RESOURCES, Resources


def names(prefix: str, resources: Resources = RESOURCES) -> dict[str, str]:
    """Physical names by logical id."""
    found = {t.logical_id: f"{prefix}-{t.logical_id.lower()}" for t in resources.tables}
    found |= {b.logical_id: f"{prefix}-{b.logical_id.lower()}" for b in resources.buckets}
    found |= {q.logical_id: f"{prefix}-{q.logical_id.lower()}" for q in resources.queues}
    found |= {s.logical_id: f"{prefix}/{s.logical_id}" for s in resources.secrets}
    return found


def provision(
    session: boto3.session.Session,
    prefix: str,
    platform_key: str,
    resources: Resources = RESOURCES,
) -> dict[str, str]:
    """Create every declared resource; returns the app's environment variables."""
    physical = names(prefix, resources)
    env: dict[str, str] = {}
    ddb = session.client("dynamodb")
    for table in resources.tables:
        _create_table(ddb, physical[table.logical_id], table)
        env[table.env_var] = physical[table.logical_id]
    s3 = session.client("s3")
    for bucket in resources.buckets:
        s3.create_bucket(Bucket=physical[bucket.logical_id])
        if bucket.versioned:
            s3.put_bucket_versioning(
                Bucket=physical[bucket.logical_id],
                VersioningConfiguration={"Status": "Enabled"},
            )
        env[bucket.env_var] = physical[bucket.logical_id]
    sqs = session.client("sqs")
    for queue in resources.queues:
        env[queue.env_var] = _create_queue(sqs, physical[queue.logical_id], queue)
    sm = session.client("secretsmanager")
    for secret in resources.secrets:
        value = secrets.token_hex(32) if secret.generated else platform_key_hash(platform_key)
        sm.create_secret(Name=physical[secret.logical_id], SecretString=value)
        env[secret.env_var] = physical[secret.logical_id]
    return env


def platform_key_hash(platform_key: str) -> str:
    """What the platform-key secret holds: sha256 hex of the key."""
    return hashlib.sha256(platform_key.encode()).hexdigest()


def _create_table(ddb: Any, name: str, table: Any) -> None:
    attributes = {table.partition_key, table.sort_key}
    indexes = []
    for index in table.indexes:
        attributes |= {index.partition_key, index.sort_key}
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        )
    params: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)
        ],
        "KeySchema": [
            {"AttributeName": table.partition_key, "KeyType": "HASH"},
            {"AttributeName": table.sort_key, "KeyType": "RANGE"},
        ],
    }
    if indexes:
        params["GlobalSecondaryIndexes"] = indexes
    if table.stream_view_type:
        params["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": table.stream_view_type,
        }
    ddb.create_table(**params)
    if table.ttl_attribute:
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )


def _create_queue(sqs: Any, name: str, queue: Any) -> str:
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq",
        Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_seconds)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
    return str(
        sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout_seconds),
                "MessageRetentionPeriod": str(queue.retention_seconds),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
    )
