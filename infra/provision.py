"""Create the resources of `infra/resources.py` through boto3 (moto locally and in tests).

The names are derived from a prefix; `provision` returns the environment
variables that point the app at them (each resource's `env_var`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import boto3

from infra.resources import RESOURCES, Bucket, Resources, StateMachine, Topic

WORKFLOWS = Path(__file__).resolve().parent.parent / "chalicelib" / "workflows"
# moto does not check roles; on AWS the CDK stack makes the state machine's own role.
LOCAL_STATE_MACHINE_ROLE = "arn:aws:iam::123456789012:role/custos-local-state-machine"


def names(prefix: str, resources: Resources = RESOURCES) -> dict[str, str]:
    """Physical names by logical id."""
    found = {t.logical_id: f"{prefix}-{t.logical_id.lower()}" for t in resources.tables}
    found |= {b.logical_id: f"{prefix}-{b.logical_id.lower()}" for b in resources.buckets}
    found |= {q.logical_id: f"{prefix}-{q.logical_id.lower()}" for q in resources.queues}
    found |= {s.logical_id: f"{prefix}/{s.logical_id}" for s in resources.secrets}
    found |= {t.logical_id: f"{prefix}-{t.logical_id.lower()}" for t in resources.topics}
    found |= {m.name: f"{prefix}-{m.name}" for m in resources.state_machines}
    found |= {s.function: f"{prefix}-{s.function}" for s in resources.schedules}
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
        name = physical[bucket.logical_id]
        s3.create_bucket(
            Bucket=name, ObjectLockEnabledForBucket=bucket.object_lock_days is not None
        )
        if bucket.object_lock_days is not None:
            s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=lock(bucket))
        if bucket.versioned:
            s3.put_bucket_versioning(
                Bucket=physical[bucket.logical_id],
                VersioningConfiguration={"Status": "Enabled"},
            )
        if bucket.expiration_days is not None:
            s3.put_bucket_lifecycle_configuration(
                Bucket=physical[bucket.logical_id],
                LifecycleConfiguration={"Rules": [_expiry_rule(bucket)]},
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
    kms = session.client("kms")
    key_arns = {}
    for name in resources.kms_keys:
        key_arns[name] = kms.create_key(Description=f"Custos {name}")["KeyMetadata"]["Arn"]
        env[_convention(name, "KEY_ARN")] = key_arns[name]
    for topic in resources.topics:
        env[topic.env_var] = _create_topic(session, physical, resources, topic, key_arns, env)
    machines = session.client("stepfunctions")
    for machine in resources.state_machines:
        env[machine.env_var] = _create_state_machine(
            machines, physical[machine.name], machine, resources, env
        )
    events = session.client("events")
    for schedule in resources.schedules:
        # The rule documents the schedule as AWS holds it; locally the dispatcher runs it.
        events.put_rule(
            Name=physical[schedule.function],
            ScheduleExpression=schedule.expression,
            State="ENABLED",
        )
    return env


def _expiry_rule(bucket: Bucket) -> dict[str, Any]:
    """The lifecycle rule deleting a bucket's objects after its expiry (and stale uploads)."""
    return {
        "ID": "expire",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "Expiration": {"Days": bucket.expiration_days},
        "AbortIncompleteMultipartUpload": {
            "DaysAfterInitiation": bucket.abort_incomplete_multipart_days
        },
    }


def lock(bucket: Bucket) -> dict[str, Any]:
    """The bucket's Object Lock configuration: compliance mode, its default retention."""
    return {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": bucket.object_lock_days}},
    }


def _convention(name: str, what: str) -> str:
    from infra.cdk.names import convention_env_var

    return convention_env_var(name, what)


def _create_topic(
    session: boto3.session.Session,
    physical: dict[str, str],
    resources: Resources,
    topic: Topic,
    key_arns: dict[str, str],
    env: dict[str, str],
) -> str:
    """The topic, and every subscribing queue subscribed with raw delivery and a filter
    on the event type (prefix match)."""
    sns, sqs = session.client("sns"), session.client("sqs")
    arn = str(
        sns.create_topic(
            Name=physical[topic.logical_id],
            Attributes={"KmsMasterKeyId": key_arns[topic.kms_key]},
        )["TopicArn"]
    )
    for queue in resources.subscribers():
        queue_arn = _queue_arn(sqs, env[queue.env_var])
        sns.subscribe(
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicy": json.dumps(filter_policy(queue.subscribes_to)),
            },
            ReturnSubscriptionArn=True,
        )
    return arn


def filter_policy(prefixes: tuple[str, ...]) -> dict[str, Any]:
    """The SNS filter policy taking the event types that start with one of `prefixes`."""
    return {"event_type": [{"prefix": p} for p in prefixes]}


def definition(machine: StateMachine, resources: Resources, queue_urls: dict[str, str]) -> str:
    """The state machine's definition with each `${<Queue>QueueUrl}` substituted."""
    text = (WORKFLOWS / f"{machine.name}.asl.json").read_text()
    for queue in resources.queues:
        text = text.replace(f"${{{queue.logical_id}QueueUrl}}", queue_urls[queue.env_var])
    return text


def _create_state_machine(
    machines: Any, name: str, machine: StateMachine, resources: Resources, env: dict[str, str]
) -> str:
    answer = machines.create_state_machine(
        name=name,
        definition=definition(machine, resources, env),
        roleArn=LOCAL_STATE_MACHINE_ROLE,
        type="STANDARD",
    )
    return str(answer["stateMachineArn"])


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


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
