"""Least privilege: one role per function, each allowing only what its code calls."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the cdk extra: pip install -e '.[dev,cdk]'")

from infra.cdk.access import ACCESS, ANCHOR_WRITE, ARTIFACT_OBJECTS
from infra.cdk.functions import QUEUE_RECEIVE, STREAM_LIST, STREAM_READ
from infra.cdk.names import logical_id
from infra.resources import RESOURCES
from tests.infra.conftest import Synthesized
from tests.infra.templates import as_list, refs, resources_of, role_actions, role_statements

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]

DATA_SERVICES = ("dynamodb", "s3", "sqs", "sns", "secretsmanager", "kms", "states")
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}


def test_each_function_runs_with_its_own_role_and_log_group(synthesized: Synthesized) -> None:
    functions = resources_of(synthesized.template, "AWS::Serverless::Function").values()
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions]
    log_groups = [f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in functions]
    assert len(set(roles)) == len(roles) == len(set(log_groups))


def test_every_deployed_function_has_an_entry_in_the_access_map(synthesized: Synthesized) -> None:
    # A function missing here runs with logs-only permissions: add it to
    # infra/cdk/access.py (an empty tuple if it really calls no AWS API).
    deployed = set(synthesized.stack.wiring.roles)
    assert deployed - set(ACCESS) == set()


def _binding_grants(synthesized: Synthesized, function: str) -> set[tuple[str, str]]:
    """(action, logical id) pairs an event-source binding of `function` needs."""
    pairs: set[tuple[str, str]] = set()
    mappings = resources_of(synthesized.template, "AWS::Lambda::EventSourceMapping").values()
    for consumer in RESOURCES.stream_consumers:
        if consumer.function != function:
            continue
        table = logical_id("table", consumer.table)
        pairs |= {(action, table) for action in (*STREAM_READ, *STREAM_LIST)}
        for mapping in mappings:
            props = mapping["Properties"]
            if props["EventSourceArn"] == {"Fn::GetAtt": [table, "StreamArn"]}:
                failures = props["DestinationConfig"]["OnFailure"]["Destination"]
                pairs.add(("sqs:SendMessage", failures["Fn::GetAtt"][0]))
    for queue_consumer in RESOURCES.queue_consumers:
        if queue_consumer.function == function:
            queue = logical_id("queue", queue_consumer.queue)
            pairs |= {(action, queue) for action in QUEUE_RECEIVE}
    return pairs


def test_each_role_allows_exactly_its_access_map_entry_and_bindings(
    synthesized: Synthesized,
) -> None:
    for function in synthesized.stack.wiring.roles:
        allowed = {
            (action, target)
            for s in role_statements(synthesized.template, function)
            if s["Effect"] == "Allow"
            for action in as_list(s["Action"])
            if action not in LOGS
            for target in refs(s["Resource"])
        }
        declared = {
            (action, logical_id("bucket" if g.kind == "objects" else g.kind, g.target))
            for g in ACCESS.get(function, ())
            for action in g.actions
        }
        assert allowed == declared | _binding_grants(synthesized, function), function


def test_outbox_relay_reads_the_table_stream_and_publishes_only_to_the_topic(
    synthesized: Synthesized,
) -> None:
    actions = role_actions(synthesized.template, "outbox_relay")
    assert actions == LOGS | {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",  # its failure queue only
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }


def test_api_handler_cannot_scan(synthesized: Synthesized) -> None:
    actions = role_actions(synthesized.template, "api_handler")
    assert "dynamodb:GetItem" in actions
    assert not {a for a in actions if a.startswith("dynamodb:") and "Scan" in a}
    assert not {a for a in actions if a.startswith("dynamodb:") and "PartiQL" in a}


def test_no_identity_policy_grants_wildcard_actions_on_data_services(
    synthesized: Synthesized,
) -> None:
    statements: list[dict[str, Any]] = []
    for role in resources_of(synthesized.template, "AWS::IAM::Role").values():
        statements += [
            s
            for p in role["Properties"].get("Policies", [])
            for s in p["PolicyDocument"]["Statement"]
        ]
    for policy in resources_of(synthesized.template, "AWS::IAM::Policy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    wildcards = [
        action
        for s in statements
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
        if action == "*" or (action.split(":")[0] in DATA_SERVICES and "*" in action)
    ]
    assert wildcards == []


def test_each_queue_consumer_gets_a_mapping_and_permission_to_receive_its_queue(
    synthesized: Synthesized,
) -> None:
    mappings = resources_of(synthesized.template, "AWS::Lambda::EventSourceMapping").values()
    assert RESOURCES.queue_consumers, "the app declares queue consumers"
    for consumer in RESOURCES.queue_consumers:
        queue = logical_id("queue", consumer.queue)
        mapping = next(
            m["Properties"]
            for m in mappings
            if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}
        )
        assert mapping["BatchSize"] == consumer.batch_size
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        receive = [
            s
            for s in role_statements(synthesized.template, consumer.function)
            if set(as_list(s["Action"])) == set(QUEUE_RECEIVE)
        ]
        assert [refs(s["Resource"]) for s in receive] == [{queue}], consumer.function


def test_artifact_objects_are_granted_under_the_tenants_prefix_only(
    synthesized: Synthesized,
) -> None:
    # The store scopes every key to the caller's tenant; IAM keeps every role to tenants/*.
    bucket = logical_id("bucket", "Artifacts")
    prefix = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/tenants/*"]]}
    expected = {
        "api_handler": set(ARTIFACT_OBJECTS),
        "verify_artifact": {"s3:GetObject", "s3:GetObjectVersion"},
    }
    for function, actions in expected.items():
        on_objects = _object_statements(synthesized, function, "Artifacts")
        assert [(set(as_list(s["Action"])), s["Resource"]) for s in on_objects] == [
            (actions, prefix)
        ], function


def _object_statements(synthesized: Synthesized, function: str, bucket: str) -> list[Any]:
    """The function's statements on objects of `bucket` (its ARN joined with a key pattern)."""
    arn = {"Fn::GetAtt": [logical_id("bucket", bucket), "Arn"]}

    def joined(resource: Any) -> list[Any]:
        return list(resource.get("Fn::Join", ["", []])[1]) if isinstance(resource, dict) else []

    return [
        s
        for s in role_statements(synthesized.template, function)
        if any(a.startswith("s3:") and a != "s3:ListBucket" for a in as_list(s["Action"]))
        and arn in joined(s["Resource"])
    ]


def test_export_files_are_written_by_the_exporter_and_read_by_the_api_under_tenants_only(
    synthesized: Synthesized,
) -> None:
    # The API signs download URLs (GetObject); the exporter streams files up; nobody else.
    prefix = {
        "Fn::Join": ["", [{"Fn::GetAtt": [logical_id("bucket", "Exports"), "Arn"]}, "/tenants/*"]]
    }
    expected = {
        "api_handler": {"s3:GetObject"},
        "run_export": {"s3:PutObject", "s3:AbortMultipartUpload"},
    }
    for function in ACCESS:
        on_objects = _object_statements(synthesized, function, "Exports")
        found = [(set(as_list(s["Action"])), s["Resource"]) for s in on_objects]
        assert found == ([(expected[function], prefix)] if function in expected else []), function


# Object Lock holds an anchor against everyone in compliance mode; IAM makes sure no role
# of the app could even ask to weaken it (moto enforces no IAM, so this is where it shows).
NEVER_ON_ANCHORS = {
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:BypassGovernanceRetention",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutObjectLegalHold",
    "s3:PutBucketVersioning",
    "s3:PutBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:DeleteBucket",
}


def _anchor_statements(synthesized: Synthesized, function: str) -> list[dict[str, Any]]:
    bucket = logical_id("bucket", "Anchors")
    return [
        s for s in role_statements(synthesized.template, function) if bucket in refs(s["Resource"])
    ]


def test_no_role_may_delete_unlock_or_bypass_an_anchor(synthesized: Synthesized) -> None:
    for function in synthesized.stack.wiring.roles:
        allowed = {
            action
            for s in _anchor_statements(synthesized, function)
            if s["Effect"] == "Allow"
            for action in as_list(s["Action"])
        }
        assert not allowed & NEVER_ON_ANCHORS, (function, allowed & NEVER_ON_ANCHORS)
        assert not {a for a in allowed if a.endswith("*")}, function


def test_only_the_anchoring_consumer_writes_anchors_and_only_in_compliance_mode(
    synthesized: Synthesized,
) -> None:
    writers = {
        function
        for function in synthesized.stack.wiring.roles
        if any(
            a in ANCHOR_WRITE
            for s in _anchor_statements(synthesized, function)
            for a in as_list(s["Action"])
        )
    }
    assert writers == {"anchor_audit_chain"}
    (statement,) = _anchor_statements(synthesized, "anchor_audit_chain")
    assert set(as_list(statement["Action"])) == {"s3:PutObject", "s3:PutObjectRetention"}
    # Every PUT and every retention change must name compliance mode and keep the anchor
    # at least six months: a shorter or governance-mode retention is refused by IAM too.
    assert statement["Condition"] == {
        "StringEquals": {"s3:object-lock-mode": "COMPLIANCE"},
        "NumericGreaterThanEquals": {"s3:object-lock-remaining-retention-days": "183"},
    }
    bucket = logical_id("bucket", "Anchors")
    prefix = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/tenants/*"]]}
    assert statement["Resource"] == prefix


def test_the_anchors_bucket_is_locked_in_compliance_mode_and_versioned(
    synthesized: Synthesized,
) -> None:
    props = synthesized.template["Resources"][logical_id("bucket", "Anchors")]["Properties"]
    assert props["ObjectLockEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": "COMPLIANCE",
        "Days": 183,
    }


def test_only_the_exporter_reads_anchors_back_and_only_reads_and_lists_them(
    synthesized: Synthesized,
) -> None:
    # An audit or evidence export carries the anchors read back from their locked versions.
    readers = {
        function
        for function in synthesized.stack.wiring.roles
        if any(
            a in ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucketVersions")
            for s in _anchor_statements(synthesized, function)
            for a in as_list(s["Action"])
        )
    }
    assert readers == {"run_export"}
    found = {frozenset(as_list(s["Action"])) for s in _anchor_statements(synthesized, "run_export")}
    assert found == {
        frozenset({"s3:GetObject", "s3:GetObjectVersion"}),
        frozenset({"s3:ListBucket", "s3:ListBucketVersions"}),
    }
