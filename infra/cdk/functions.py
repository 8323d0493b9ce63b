"""Per-function roles, log groups and event-source bindings.

Built in two steps because chalice packages the functions in between: the
roles must exist (as ARNs) before packaging, the event-source mappings need
the packaged functions.
"""

from __future__ import annotations

import json

from aws_cdk import CfnResource, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.cdk.access import grants_for
from infra.cdk.data import DataPlane
from infra.cdk.handlers import function_logical_id
from infra.resources import QueueConsumer, StreamConsumer, Table

LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
STREAM_READ = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)
# ListStreams is authorized on the table's streams (`<table>/stream/*`), as in
# the DynamoDB developer guide's policy for Lambda stream consumers.
STREAM_LIST = ("dynamodb:ListStreams",)
QUEUE_RECEIVE = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)


class FunctionWiring(Construct):
    """Roles and log groups for `functions`, then their event-source mappings."""

    def __init__(
        self, scope: Construct, construct_id: str, data: DataPlane, functions: list[str]
    ) -> None:
        super().__init__(scope, construct_id)
        self.data = data
        resources = data.resources
        self.stream_consumers = [c for c in resources.stream_consumers if c.function in functions]
        self.queue_consumers = [c for c in resources.queue_consumers if c.function in functions]
        # Each stream binding's failure queue is a declared queue (entrypoints): a batch
        # that exhausts its retries is recorded there, and `infra.replay` re-sends it.
        self.failure_queues = {
            _binding_id(c): data.queues[c.failure_queue] for c in self.stream_consumers
        }
        self.grants = {name: grants_for(name) for name in functions}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.roles = {name: self._role(name) for name in functions}

    def attach(self, function_resources: dict[str, CfnResource]) -> None:
        """Point each packaged function at its log group and wire its event sources."""
        for name, function in function_resources.items():
            function.add_property_override(
                "LoggingConfig", {"LogGroup": self.log_groups[name].log_group_name}
            )
        for consumer in self.stream_consumers:
            self._stream_mapping(consumer, function_resources[consumer.function])
        for queue_consumer in self.queue_consumers:
            self._queue_mapping(queue_consumer, function_resources[queue_consumer.function])

    def _role(self, function: str) -> iam.Role:
        logical = function_logical_id(function)
        log_group = logs.LogGroup(
            self, f"{logical}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.RETAIN
        )
        self.log_groups[function] = log_group
        statements = [
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        ]
        statements += [
            iam.PolicyStatement(
                actions=list(grant.actions),
                resources=self.data.arns(grant),
                conditions=grant.conditions or None,
            )
            for grant in self.grants[function]
        ]
        statements += self._binding_statements(function)
        # Inline, so the policy exists as soon as the role does: the stream
        # mapping checks the role's permissions when it is created.
        return iam.Role(
            self,
            f"{logical}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Custos Lambda function {function}",
            inline_policies={"access": iam.PolicyDocument(statements=statements)},
        )

    def _binding_statements(self, function: str) -> list[iam.PolicyStatement]:
        statements = []
        for consumer in self.stream_consumers:
            if consumer.function != function:
                continue
            table = self.data.tables[consumer.table]
            statements += [
                iam.PolicyStatement(
                    actions=list(STREAM_READ), resources=[table.table_stream_arn or ""]
                ),
                iam.PolicyStatement(
                    actions=list(STREAM_LIST), resources=[f"{table.table_arn}/stream/*"]
                ),
                iam.PolicyStatement(
                    actions=["sqs:SendMessage"],
                    resources=[self.failure_queues[_binding_id(consumer)].queue_arn],
                ),
            ]
        for queue_consumer in self.queue_consumers:
            if queue_consumer.function == function:
                queue = self.data.queues[queue_consumer.queue]
                statements.append(
                    iam.PolicyStatement(actions=list(QUEUE_RECEIVE), resources=[queue.queue_arn])
                )
        return statements

    def _stream_mapping(self, consumer: StreamConsumer, function: CfnResource) -> None:
        binding = _binding_id(consumer)
        lambda_.CfnEventSourceMapping(
            self,
            f"{binding}Mapping",
            function_name=function.ref,
            event_source_arn=self.data.tables[consumer.table].table_stream_arn,
            batch_size=consumer.batch_size,
            starting_position=consumer.starting_position,
            maximum_retry_attempts=consumer.maximum_retry_attempts,
            bisect_batch_on_function_error=consumer.bisect_batch_on_error,
            function_response_types=["ReportBatchItemFailures"],
            filter_criteria=_filter_criteria(consumer, self.data.resources.table(consumer.table)),
            # A batch that exhausts its retries is recorded, not silently dropped.
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(
                    destination=self.failure_queues[binding].queue_arn
                )
            ),
        )

    def _queue_mapping(self, consumer: QueueConsumer, function: CfnResource) -> None:
        # Failed messages go to the queue's own dead-letter queue (its redrive policy).
        lambda_.CfnEventSourceMapping(
            self,
            f"{function_logical_id(consumer.function)}{consumer.queue}Mapping",
            function_name=function.ref,
            event_source_arn=self.data.queues[consumer.queue].queue_arn,
            batch_size=consumer.batch_size,
            # The consumer reports failed messages alone; the others are deleted.
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=(
                lambda_.CfnEventSourceMapping.ScalingConfigProperty(
                    maximum_concurrency=consumer.concurrency
                )
                if consumer.concurrency
                else None
            ),
        )


def _filter_criteria(
    consumer: StreamConsumer, table: Table
) -> lambda_.CfnEventSourceMapping.FilterCriteriaProperty | None:
    pattern = consumer.filter_pattern(table.sort_key)
    if pattern is None:
        return None
    return lambda_.CfnEventSourceMapping.FilterCriteriaProperty(
        filters=[lambda_.CfnEventSourceMapping.FilterProperty(pattern=json.dumps(pattern))]
    )


def _binding_id(consumer: StreamConsumer) -> str:
    return f"{function_logical_id(consumer.function)}{consumer.table}Stream"
