"""The synthesized AWS stack: data resources, the API edge, outputs, cfn-lint and cdk-nag."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the cdk extra: pip install -e '.[dev,cdk]'")

from aws_cdk import Stack, Validations
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from infra.cdk.handlers import function_logical_id
from infra.cdk.names import logical_id
from infra.resources import RESOURCES
from tests.infra.conftest import Synthesized
from tests.infra.templates import refs, resources_of

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]

# cfn-lint rules switched off for this template, each with its reason. None today.
CFN_LINT_IGNORED: dict[str, str] = {}


@pytest.fixture(scope="module")
def template(synthesized: Synthesized) -> Template:
    return Template.from_json(synthesized.template)


def test_table_is_encrypted_recoverable_and_protected_from_deletion(template: Template) -> None:
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "BillingMode": "PAY_PER_REQUEST",
                    "SSESpecification": {"SSEEnabled": True},
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "DeletionProtectionEnabled": True,
                    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )


def test_every_bucket_is_encrypted_and_never_public(synthesized: Synthesized) -> None:
    buckets = resources_of(synthesized.template, "AWS::S3::Bucket")
    assert len(buckets) == 4  # artifacts, exports, anchors (Object Lock), the access-log bucket
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name


def test_artifacts_bucket_is_versioned_logged_and_aborts_stale_uploads(
    synthesized: Synthesized,
) -> None:
    props = synthesized.template["Resources"][logical_id("bucket", "Artifacts")]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["DestinationBucketName"]
    assert {
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        "Status": "Enabled",
    } in props["LifecycleConfiguration"]["Rules"]


def test_exports_bucket_expires_files_after_30_days_and_stale_uploads_after_1(
    synthesized: Synthesized,
) -> None:
    props = synthesized.template["Resources"][logical_id("bucket", "Exports")]["Properties"]
    assert "VersioningConfiguration" not in props  # files are made anew on request
    assert props["LoggingConfiguration"]["DestinationBucketName"]
    assert {
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "ExpirationInDays": 30,
        "Status": "Enabled",
    } in props["LifecycleConfiguration"]["Rules"]


def _denies_plain_http(policy: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_every_bucket_refuses_plain_http(synthesized: Synthesized) -> None:
    policies = resources_of(synthesized.template, "AWS::S3::BucketPolicy").values()
    tls_only = {
        p["Properties"]["Bucket"]["Ref"]
        for p in policies
        if _denies_plain_http(p["Properties"]["PolicyDocument"])
    }
    assert tls_only == set(resources_of(synthesized.template, "AWS::S3::Bucket"))


def test_every_queue_is_encrypted_and_refuses_plain_http(synthesized: Synthesized) -> None:
    queues = resources_of(synthesized.template, "AWS::SQS::Queue")
    for name, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId"), name
    tls_only: set[str] = set()
    for policy in resources_of(synthesized.template, "AWS::SQS::QueuePolicy").values():
        if _denies_plain_http(policy["Properties"]["PolicyDocument"]):
            tls_only |= refs(policy["Properties"]["Queues"])
    assert tls_only == set(queues)


def test_platform_key_secret_waits_for_the_operator_and_cursor_key_is_generated(
    synthesized: Synthesized,
) -> None:
    resources = synthesized.template["Resources"]
    platform = resources[logical_id("secret", "PlatformKeyHash")]["Properties"]
    cursor = resources[logical_id("secret", "CursorSigningKey")]["Properties"]
    assert platform["SecretString"].startswith("UNSET")
    assert "GenerateSecretString" not in platform
    assert cursor["GenerateSecretString"]["PasswordLength"] >= 32


def test_every_function_gets_the_resource_names_in_its_environment(
    synthesized: Synthesized,
) -> None:
    expected = {
        "CUSTOS_TABLE": {"Ref": logical_id("table", "Main")},
        "CUSTOS_BUCKET": {"Ref": logical_id("bucket", "Artifacts")},
        "CUSTOS_EVENTS_TOPIC_ARN": {"Ref": logical_id("topic", "DomainEvents")},
        "CUSTOS_APPROVAL_STATE_MACHINE_ARN": {"Ref": logical_id("state_machine", "approval")},
        "CUSTOS_PLATFORM_KEY_SECRET": {"Ref": logical_id("secret", "PlatformKeyHash")},
        "CUSTOS_CURSOR_KEY_SECRET": {"Ref": logical_id("secret", "CursorSigningKey")},
    }
    functions = resources_of(synthesized.template, "AWS::Serverless::Function")
    assert {"APIHandler", "OutboxRelay"} <= set(functions)
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert {k: variables.get(k) for k in expected} == expected, name


def test_stream_mapping_follows_the_declaration_and_keeps_failed_batches(
    template: Template,
) -> None:
    relay = RESOURCES.stream_consumers[0]
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_logical_id(relay.function)},
            "EventSourceArn": {"Fn::GetAtt": [logical_id("table", relay.table), "StreamArn"]},
            "BatchSize": relay.batch_size,
            "StartingPosition": relay.starting_position,
            "MaximumRetryAttempts": relay.maximum_retry_attempts,
            "BisectBatchOnFunctionError": relay.bisect_batch_on_error,
            "DestinationConfig": {
                "OnFailure": {
                    "Destination": {"Fn::GetAtt": [Match.string_like_regexp("Failures"), "Arn"]}
                }
            },
        },
    )


def _rest_api(synthesized: Synthesized) -> dict[str, Any]:
    props: dict[str, Any] = synthesized.template["Resources"]["RestAPI"]["Properties"]
    return props


@pytest.mark.parametrize(
    ("response_type", "status"),
    [
        ("DEFAULT_4XX", 400),
        ("DEFAULT_5XX", 500),
        ("UNAUTHORIZED", 401),
        ("ACCESS_DENIED", 403),
        ("MISSING_AUTHENTICATION_TOKEN", 404),
        ("THROTTLED", 429),
        ("REQUEST_TOO_LARGE", 413),
    ],
)
def test_gateway_errors_are_problem_json(
    synthesized: Synthesized, response_type: str, status: int
) -> None:
    response = _rest_api(synthesized)["GatewayResponses"][response_type]
    assert response["StatusCode"] == str(status)
    assert response["ResponseParameters"]["Headers"]["Content-Type"] == (
        "'application/problem+json'"
    )
    # WHEN API Gateway substitutes its variables (messageString comes quoted)
    body_template = response["ResponseTemplates"]["application/json"]
    body = json.loads(
        body_template.replace(
            "$context.error.messageString", '"Missing Authentication Token"'
        ).replace("$context.requestId", "req-1")
    )
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["status"] == status
    assert body["detail"]
    assert body["request_id"] == "req-1"


def test_api_is_throttled_as_declared_and_access_logged(synthesized: Synthesized) -> None:
    api = _rest_api(synthesized)
    assert {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": RESOURCES.api_throttle["rate_limit"],
        "ThrottlingBurstLimit": RESOURCES.api_throttle["burst_limit"],
    }.items() <= api["MethodSettings"][0].items()
    assert api["MethodSettings"][0]["DataTraceEnabled"] is False
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]


def test_outputs_name_the_api_url_table_bucket_queue_and_secrets(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert {
        "ApiUrl",
        "MainTableName",
        "ArtifactsBucketName",
        "WorkflowMessagesQueueUrl",
        "DomainEventsTopicArn",
        "approvalStateMachineArn",
        "PlatformKeyHashSecretArn",
        "CursorSigningKeySecretArn",
    } <= set(outputs)


def test_template_passes_cfn_lint(synthesized: Synthesized) -> None:
    config = ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=list(CFN_LINT_IGNORED))
    matches = lint(synthesized.template_path.read_text(), config=config)
    assert [f"{m.rule.id} {m.path}: {m.message}" for m in matches] == []


def _nag_findings(scope: Stack) -> list[str]:
    report = AwsSolutionsChecks().validate_scope(scope)
    return [
        f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}: {v.description}"
        for v in report.violations
    ]


def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(synthesized: Synthesized) -> None:
    assert _nag_findings(synthesized.stack) == []


def test_every_cdk_nag_acknowledgment_gives_its_reason(synthesized: Synthesized) -> None:
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    reasons = {
        rule: reason
        for construct in synthesized.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
        for rule, reason in entry.data.items()
    }
    assert reasons, "expected the acknowledgments of infra/cdk/nag.py"
    assert {rule: r for rule, r in reasons.items() if len(str(r)) < 40} == {}


def test_the_approval_state_machine_sends_only_to_the_workflow_queue_and_is_traced(
    synthesized: Synthesized,
) -> None:
    machines = resources_of(synthesized.template, "AWS::StepFunctions::StateMachine")
    machine = machines[logical_id("state_machine", "approval")]["Properties"]
    assert machine["DefinitionSubstitutions"] == {
        "WorkflowMessagesQueueUrl": {"Ref": logical_id("queue", "WorkflowMessages")}
    }
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"


def test_each_subscribing_queue_takes_its_event_types_from_the_topic_raw(
    synthesized: Synthesized,
) -> None:
    subscriptions = resources_of(synthesized.template, "AWS::SNS::Subscription").values()
    by_queue = {refs(s["Properties"]["Endpoint"]).pop(): s["Properties"] for s in subscriptions}
    for queue in RESOURCES.subscribers():
        props = by_queue[logical_id("queue", queue.logical_id)]
        assert props["TopicArn"] == {"Ref": logical_id("topic", "DomainEvents")}
        assert props["RawMessageDelivery"] is True
        assert props["FilterPolicy"] == {"event_type": [{"prefix": p} for p in queue.subscribes_to]}
    topic = resources_of(synthesized.template, "AWS::SNS::Topic")
    assert topic[logical_id("topic", "DomainEvents")]["Properties"]["KmsMasterKeyId"]
