"""Drift between the declarations (infra/resources.py, the Chalice app) and a template.

`find_drift` returns one sentence per declared thing the synthesized template
lacks or shapes differently; an empty list means the stack deploys exactly
what is declared. Pure dict logic: no aws_cdk import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from infra.cdk.handlers import Handler, function_logical_id
from infra.cdk.names import logical_id
from infra.resources import Bucket, Queue, Resources, Secret, StreamConsumer, Table, Topic

Template = dict[str, Any]

# SAM event type for each handler kind that chalice wires as a function event.
SAM_EVENT_TYPES = {
    "schedule": "Schedule",
    "event_rule": "CloudWatchEvent",
    "sqs": "SQS",
    "dynamodb": "DynamoDB",
    "kinesis": "Kinesis",
    "sns": "SNS",
    "s3": "S3",
}


def find_drift(resources: Resources, handlers: Iterable[Handler], template: Template) -> list[str]:
    """Every way `template` fails to deploy `resources` and `handlers`."""
    found = template.get("Resources", {})
    handlers = list(handlers)
    problems: list[str] = []
    for table in resources.tables:
        problems += _table(table, found)
    for bucket in resources.buckets:
        problems += _bucket(bucket, found)
    for queue in resources.queues:
        problems += _queue(queue, found)
    for secret in resources.secrets:
        problems += _secret(secret, found)
    for name in resources.kms_keys:
        key = _resource(found, logical_id("key", name), "AWS::KMS::Key", problems)
        if key and not _props(key).get("EnableKeyRotation"):
            problems.append(f"key {name}: rotation is off")
    for machine in resources.state_machines:
        _resource(
            found,
            logical_id("state_machine", machine.name),
            "AWS::StepFunctions::StateMachine",
            problems,
        )
    for topic in resources.topics:
        problems += _topic(topic, resources, found)
    problems += _consumers(resources, handlers, found)
    problems += _handlers(resources, handlers, found)
    return problems


def _topic(topic: Topic, resources: Resources, found: Template) -> list[str]:
    """The topic, encrypted with its declared key, and one raw subscription with the
    declared prefix filter per subscribing queue."""
    problems: list[str] = []
    lid = logical_id("topic", topic.logical_id)
    resource = _resource(found, lid, "AWS::SNS::Topic", problems)
    if resource is None:
        return problems
    key = {"Fn::GetAtt": [logical_id("key", topic.kms_key), "Arn"]}
    if _props(resource).get("KmsMasterKeyId") != key:
        problems.append(f"topic {topic.logical_id}: not encrypted with key {topic.kms_key}")
    subscriptions = [_props(r) for r in found.values() if r.get("Type") == "AWS::SNS::Subscription"]
    for queue in resources.subscribers():
        endpoint = {"Fn::GetAtt": [logical_id("queue", queue.logical_id), "Arn"]}
        expected = {
            "TopicArn": {"Ref": lid},
            "Protocol": "sqs",
            "Endpoint": endpoint,
            "RawMessageDelivery": True,
            "FilterPolicy": {"event_type": [{"prefix": p} for p in queue.subscribes_to]},
        }
        matching = [s for s in subscriptions if s.get("Endpoint") == endpoint]
        if not matching:
            problems.append(f"queue {queue.logical_id}: no subscription to {topic.logical_id}")
        elif any(matching[0].get(k) != v for k, v in expected.items()):
            problems.append(
                f"queue {queue.logical_id}: subscription is {matching[0]}, declared {expected}"
            )
    return problems


def _resource(found: Template, lid: str, kind: str, problems: list[str]) -> dict[str, Any] | None:
    resource = found.get(lid)
    if resource is None or resource.get("Type") != kind:
        problems.append(f"{kind} {lid} is missing")
        return None
    return resource


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties", {})


def _keys(schema: list[dict[str, str]]) -> tuple[str | None, str | None]:
    by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
    return by_type.get("HASH"), by_type.get("RANGE")


def _table(table: Table, found: Template) -> list[str]:
    problems: list[str] = []
    lid = logical_id("table", table.logical_id)
    resource = _resource(found, lid, "AWS::DynamoDB::Table", problems)
    if resource is None:
        return problems
    props = _props(resource)
    expect: dict[str, Any] = {
        "keys": (table.partition_key, table.sort_key),
        "billing": "PAY_PER_REQUEST",
        "stream": table.stream_view_type,
        "ttl": table.ttl_attribute,
        "point-in-time recovery": table.point_in_time_recovery,
        "deletion protection": table.deletion_protection,
        "indexes": {i.name: (i.partition_key, i.sort_key, "ALL") for i in table.indexes},
    }
    ttl = props.get("TimeToLiveSpecification", {})
    actual: dict[str, Any] = {
        "keys": _keys(props.get("KeySchema", [])),
        "billing": props.get("BillingMode"),
        "stream": props.get("StreamSpecification", {}).get("StreamViewType"),
        "ttl": ttl.get("AttributeName") if ttl.get("Enabled") else None,
        "point-in-time recovery": bool(
            props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        ),
        "deletion protection": bool(props.get("DeletionProtectionEnabled")),
        "indexes": {
            gsi["IndexName"]: (*_keys(gsi["KeySchema"]), gsi["Projection"]["ProjectionType"])
            for gsi in props.get("GlobalSecondaryIndexes", [])
        },
    }
    string_attributes = {
        a["AttributeName"]
        for a in props.get("AttributeDefinitions", [])
        if a["AttributeType"] == "S"
    }
    key_names = {table.partition_key, table.sort_key}
    key_names |= {n for i in table.indexes for n in (i.partition_key, i.sort_key)}
    if not key_names <= string_attributes:
        problems.append(f"table {table.logical_id}: keys {sorted(key_names)} are not all strings")
    return problems + _compare(f"table {table.logical_id}", expect, actual)


def _compare(what: str, expect: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    return [
        f"{what}: {field} is {actual[field]!r}, declared {expect[field]!r}"
        for field in expect
        if expect[field] != actual[field]
    ]


def _bucket(bucket: Bucket, found: Template) -> list[str]:
    problems: list[str] = []
    resource = _resource(
        found, logical_id("bucket", bucket.logical_id), "AWS::S3::Bucket", problems
    )
    if resource is None:
        return problems
    props = _props(resource)
    aborts = [
        rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        for rule in props.get("LifecycleConfiguration", {}).get("Rules", [])
        if rule.get("Status") == "Enabled" and "AbortIncompleteMultipartUpload" in rule
    ]
    expiries = [
        rule["ExpirationInDays"]
        for rule in props.get("LifecycleConfiguration", {}).get("Rules", [])
        if rule.get("Status") == "Enabled" and "ExpirationInDays" in rule
    ]
    block = props.get("PublicAccessBlockConfiguration", {})
    expect = {
        "versioning": "Enabled" if bucket.versioned else None,
        "abort incomplete uploads after days": [bucket.abort_incomplete_multipart_days],
        "objects expire after days": (
            [] if bucket.expiration_days is None else [bucket.expiration_days]
        ),
        "encrypted": True,
        "public access blocked": True,
        "object lock": (
            {
                "ObjectLockEnabled": "Enabled",
                "Rule": {
                    "DefaultRetention": {"Mode": "COMPLIANCE", "Days": bucket.object_lock_days}
                },
            }
            if bucket.object_lock_days is not None
            else None
        ),
    }
    actual = {
        "versioning": props.get("VersioningConfiguration", {}).get("Status"),
        "abort incomplete uploads after days": aborts,
        "objects expire after days": expiries,
        "encrypted": bool(props.get("BucketEncryption")),
        "public access blocked": len(block) == 4 and all(block.values()),
        "object lock": (
            props.get("ObjectLockConfiguration") if props.get("ObjectLockEnabled") else None
        ),
    }
    return problems + _compare(f"bucket {bucket.logical_id}", expect, actual)


def _queue(queue: Queue, found: Template) -> list[str]:
    problems: list[str] = []
    q = _resource(found, logical_id("queue", queue.logical_id), "AWS::SQS::Queue", problems)
    dlq_id = logical_id("dlq", queue.logical_id)
    dlq = _resource(found, dlq_id, "AWS::SQS::Queue", problems)
    if q is None or dlq is None:
        return problems
    props = _props(q)
    redrive = props.get("RedrivePolicy", {})
    expect = {
        "visibility timeout": queue.visibility_timeout_seconds,
        "retention": queue.retention_seconds,
        "max receive count": queue.max_receive_count,
        "dead-letter queue": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "dead-letter retention": queue.dlq_retention_seconds,
    }
    actual = {
        "visibility timeout": props.get("VisibilityTimeout", 30),
        "retention": props.get("MessageRetentionPeriod", 4 * 24 * 3600),
        "max receive count": redrive.get("maxReceiveCount"),
        "dead-letter queue": redrive.get("deadLetterTargetArn"),
        "dead-letter retention": _props(dlq).get("MessageRetentionPeriod", 4 * 24 * 3600),
    }
    return problems + _compare(f"queue {queue.logical_id}", expect, actual)


def _secret(secret: Secret, found: Template) -> list[str]:
    problems: list[str] = []
    lid = logical_id("secret", secret.logical_id)
    resource = _resource(found, lid, "AWS::SecretsManager::Secret", problems)
    if resource is not None and ("GenerateSecretString" in _props(resource)) != secret.generated:
        problems.append(f"secret {secret.logical_id}: generated should be {secret.generated}")
    return problems


def _filter(consumer: StreamConsumer, resources: Resources) -> dict[str, Any] | None:
    """The FilterCriteria a stream binding's declared filter deploys as (None: no filter)."""
    pattern = consumer.filter_pattern(resources.table(consumer.table).sort_key)
    return None if pattern is None else {"Filters": [{"Pattern": json.dumps(pattern)}]}


def _consumers(resources: Resources, handlers: list[Handler], found: Template) -> list[str]:
    problems: list[str] = []
    declared_functions = {h.function for h in handlers}
    mappings = [_props(r) for r in found.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    bindings: list[tuple[str, Any, dict[str, Any]]] = [
        (
            c.function,
            {"Fn::GetAtt": [logical_id("table", c.table), "StreamArn"]},
            {
                "BatchSize": c.batch_size,
                "StartingPosition": c.starting_position,
                "MaximumRetryAttempts": c.maximum_retry_attempts,
                "BisectBatchOnFunctionError": c.bisect_batch_on_error,
                "FilterCriteria": _filter(c, resources),
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "DestinationConfig": {
                    "OnFailure": {
                        "Destination": {"Fn::GetAtt": [logical_id("queue", c.failure_queue), "Arn"]}
                    }
                },
            },
        )
        for c in resources.stream_consumers
    ]
    bindings += [
        (
            c.function,
            {"Fn::GetAtt": [logical_id("queue", c.queue), "Arn"]},
            {"BatchSize": c.batch_size, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
        )
        for c in resources.queue_consumers
    ]
    found_functions = {lid: _props(r) for lid, r in found.items()}
    for c in resources.queue_consumers:
        timeout = found_functions.get(function_logical_id(c.function), {}).get("Timeout")
        if c.function in declared_functions and timeout != c.timeout_seconds:
            problems.append(
                f"consumer {c.function}: Lambda timeout is {timeout}, declared {c.timeout_seconds}"
            )
    for function, source, settings in bindings:
        what = f"consumer {function} of {source['Fn::GetAtt'][0]}"
        if function not in declared_functions:
            problems.append(f"{what}: the app declares no function {function}")
        matching = [
            m
            for m in mappings
            if m.get("FunctionName") == {"Ref": function_logical_id(function)}
            and m.get("EventSourceArn") == source
        ]
        if not matching:
            problems.append(f"{what}: no event source mapping")
        elif any(matching[0].get(k) != v for k, v in settings.items()):
            problems.append(f"{what}: mapping is {matching[0]}, declared {settings}")
    return problems


def _handlers(resources: Resources, handlers: list[Handler], found: Template) -> list[str]:
    problems: list[str] = []
    env_vars = {
        r.env_var
        for group in (
            resources.tables,
            resources.buckets,
            resources.queues,
            resources.secrets,
            resources.topics,
            resources.state_machines,
        )
        for r in group
    }
    for function in dict.fromkeys(h.function for h in handlers):
        lid = function_logical_id(function)
        resource = _resource(found, lid, "AWS::Serverless::Function", problems)
        if resource is None:
            continue
        variables = _props(resource).get("Environment", {}).get("Variables", {})
        if missing := sorted(env_vars - set(variables)):
            problems.append(f"function {function}: environment lacks {missing}")
    paths = _props(found.get("RestAPI", {})).get("DefinitionBody", {}).get("paths", {})
    for handler in handlers:
        if handler.kind == "route":
            method, path = handler.detail.split(" ", 1)
            if method.lower() not in paths.get(path, {}):
                problems.append(f"route {handler.detail} is not in the RestAPI definition")
        elif handler.kind in SAM_EVENT_TYPES:
            problems += _event(handler, found.get(function_logical_id(handler.function), {}))
    return problems


# Polling event sources chalice wires by name (a queue name, a stream ARN known at
# import time) with no permission on the function's role: on this stack they are
# declared in infra/resources.py instead (queue_consumers, stream_consumers).
UNSUPPORTED_DECORATORS = {"sqs": "queue_consumers", "dynamodb": "stream_consumers"}


def _event(handler: Handler, function: dict[str, Any]) -> list[str]:
    if handler.kind in UNSUPPORTED_DECORATORS:
        return [
            f"{handler.kind} {handler.function} ({handler.detail}): use @app.lambda_function "
            f"and RESOURCES.{UNSUPPORTED_DECORATORS[handler.kind]}, not the chalice decorator"
        ]
    events = _props(function).get("Events", {}).values()
    wanted = SAM_EVENT_TYPES[handler.kind]
    for event in events:
        if event.get("Type") != wanted:
            continue
        if handler.kind != "schedule" or event["Properties"].get("Schedule") == handler.detail:
            return []
    return [f"{handler.kind} {handler.function} ({handler.detail}) has no {wanted} event"]
