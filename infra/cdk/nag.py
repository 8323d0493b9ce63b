"""cdk-nag (AwsSolutions) findings this stack accepts, each with its reason.

cdk-nag 3 reports through CDK's policy validation: a finding that is not
acknowledged here stops `cdk synth`. Acknowledge one finding at a time, on the
construct that causes it, never a whole rule on the whole stack.

cdk-nag inspects CDK's own resource classes only; the SAM resources chalice
packages (functions, RestAPI) are checked by cfn-lint and tests/infra instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

from infra.cdk.names import logical_id

if TYPE_CHECKING:
    from infra.cdk.data import DataPlane
    from infra.cdk.stack import CustosStack


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept finding `rule` on `construct` (and its children) for `reason`."""
    # cdk-nag matches the bare rule id (CDK files it as an annotation rule).
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_data_findings(data: DataPlane) -> None:
    """Accepted findings on the declared resources."""
    for secret in data.secrets.values():
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "Rotation needs a rotation Lambda per secret: the platform key hash changes when "
            "the operator rotates the platform key (see the README); rotating the cursor key "
            "invalidates open pagination cursors, so it is rotated by redeploying on purpose.",
        )
    if data.access_logs is not None:
        acknowledge(
            data.access_logs,
            "AwsSolutions-S1",
            "This is the server access log bucket; logging it into itself would loop.",
        )
    for machine in data.state_machines.values():
        acknowledge(
            machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Granted by CDK for execution logging and X-Ray: CloudWatch Logs delivery "
            "(logs:CreateLogDelivery, ...) and xray:PutTraceSegments take no resource ARN.",
        )


def acknowledge_findings(stack: CustosStack) -> None:
    """Every accepted finding of the stack, next to why it is accepted."""
    acknowledge_data_findings(stack.data)
    wiring = stack.wiring
    for queue in wiring.failure_queues.values():
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is the on-failure destination of a stream mapping: it is itself the "
            "dead-letter store, and nothing consumes from it automatically.",
        )
    for consumer in wiring.stream_consumers:
        acknowledge(
            wiring.roles[consumer.function],
            f"AwsSolutions-IAM5[Resource::<{logical_id('table', consumer.table)}.Arn>/stream/*]",
            "dynamodb:ListStreams is authorized on the table's streams, whose ARNs end in a "
            "creation timestamp; the DynamoDB guide's policy for stream consumers uses stream/*.",
        )
    for function, grants in wiring.grants.items():
        for grant in grants:
            if grant.kind == "executions":
                machine = logical_id("state_machine", grant.target)
                acknowledge(
                    wiring.roles[function],
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
                    f"<AWS::AccountId>:execution:<{machine}.Name>:*]",
                    "Task tokens are answered on the executions of this one state machine; "
                    "they are named by approval request ids, known only at run time.",
                )
            if grant.kind == "objects":
                acknowledge(
                    wiring.roles[function],
                    f"AwsSolutions-IAM5[Resource::<{logical_id('bucket', grant.target)}.Arn>/"
                    f"{grant.objects}]",
                    "Object keys are tenants/<tenant>/...: the tenant is only known per "
                    "request, so the grant covers every tenant's prefix and the store scopes "
                    "each key to the caller's tenant.",
                )
    if stack.api_settings is not None and stack.api_settings.account_role is not None:
        acknowledge(
            stack.api_settings.account_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The AWS-maintained policy for API Gateway's account logging role; it only "
            "lets API Gateway write its own log groups.",
        )
