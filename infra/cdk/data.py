"""The stateful resources declared in `infra/resources.py`, as CDK constructs.

Every resource keeps a stable logical id derived from its declaration
(`infra.cdk.names.logical_id`), so renaming a Python variable never replaces a
table, and the drift test can find each declared resource in the template.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, CfnResource, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.cdk.access import Grant
from infra.cdk.build import REPO_ROOT
from infra.cdk.names import convention_env_var, logical_id
from infra.resources import Bucket, Queue, Resources, Secret, Table, Topic

UNSET_SECRET = "UNSET: put the value with `aws secretsmanager put-secret-value`"
ACCESS_LOG_DAYS = 365
WORKFLOWS_DIR = REPO_ROOT / "chalicelib" / "workflows"


def _pin(construct: Construct, kind: str, name: str) -> None:
    child = construct.node.default_child
    assert isinstance(child, CfnResource)
    child.override_logical_id(logical_id(kind, name))


class DataPlane(Construct):
    """Tables, buckets, queues, secrets, keys and state machines of one declaration."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        resources: Resources,
        workflows_dir: Path = WORKFLOWS_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        # Log delivery through a bucket policy, not the legacy ACL, whatever
        # feature flags the app carries (the ACL needs ObjectWriter ownership).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.resources = resources
        self.workflows_dir = workflows_dir
        self.environment: dict[str, str] = {}
        self.tables = {t.logical_id: self._table(t) for t in resources.tables}
        self.access_logs = self._access_log_bucket() if resources.buckets else None
        self.buckets = {b.logical_id: self._bucket(b) for b in resources.buckets}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.queues = {q.logical_id: self._queue(q) for q in resources.queues}
        self.secrets = {s.logical_id: self._secret(s) for s in resources.secrets}
        self.keys = {name: self._key(name) for name in resources.kms_keys}
        self.topics = {t.logical_id: self._topic(t) for t in resources.topics}
        self.state_machines = {
            m.name: self._state_machine(m.name, m.env_var) for m in resources.state_machines
        }

    def arns(self, grant: Grant) -> list[str]:
        """The resource ARNs a grant applies to."""
        target = grant.target
        match grant.kind:
            case "table":
                arn = self.tables[target].table_arn
                indexes = self.resources.table(target).indexes
                return [arn, *(f"{arn}/index/{index.name}" for index in indexes)]
            case "bucket":
                return [self.buckets[target].bucket_arn]
            case "objects":
                return [self.buckets[target].arn_for_objects(grant.objects)]
            case "queue":
                return [self.queues[target].queue_arn]
            case "secret":
                return [self.secrets[target].secret_arn]
            case "key":
                return [self.keys[target].key_arn]
            case "state_machine":
                return [self.state_machines[target].state_machine_arn]
            case "executions":
                # Task tokens answer executions: SendTaskSuccess is authorized on the
                # state machine's executions.
                machine = self.state_machines[target]
                return [
                    Stack.of(self).format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{machine.state_machine_name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ]
            case "topic":
                return [self.topics[target].topic_arn]
        raise ValueError(f"unknown grant kind {grant.kind!r}")

    def _table(self, decl: Table) -> dynamodb.Table:
        string = dynamodb.AttributeType.STRING
        stream = decl.stream_view_type
        table = dynamodb.Table(
            self,
            decl.logical_id,
            partition_key=dynamodb.Attribute(name=decl.partition_key, type=string),
            sort_key=dynamodb.Attribute(name=decl.sort_key, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=decl.point_in_time_recovery
            ),
            deletion_protection=decl.deletion_protection,
            stream=dynamodb.StreamViewType(stream) if stream else None,
            time_to_live_attribute=decl.ttl_attribute,
            # The system of record outlives any one stack.
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in decl.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(name=index.partition_key, type=string),
                sort_key=dynamodb.Attribute(name=index.sort_key, type=string),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        _pin(table, "table", decl.logical_id)
        self.environment[decl.env_var] = table.table_name
        return table

    def _access_log_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_DAYS))],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _bucket(self, decl: Bucket) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            decl.logical_id,
            versioned=decl.versioned,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{decl.logical_id}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    abort_incomplete_multipart_upload_after=Duration.days(
                        decl.abort_incomplete_multipart_days
                    ),
                    expiration=(
                        Duration.days(decl.expiration_days)
                        if decl.expiration_days is not None
                        else None
                    ),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
            object_lock_enabled=decl.object_lock_days is not None or None,
            object_lock_default_retention=(
                s3.ObjectLockRetention.compliance(Duration.days(decl.object_lock_days))
                if decl.object_lock_days is not None
                else None
            ),
        )
        _pin(bucket, "bucket", decl.logical_id)
        self.environment[decl.env_var] = bucket.bucket_name
        return bucket

    def _queue(self, decl: Queue) -> sqs.Queue:
        dlq = sqs.Queue(
            self,
            f"{decl.logical_id}Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.seconds(decl.dlq_retention_seconds),
        )
        _pin(dlq, "dlq", decl.logical_id)
        self.dead_letter_queues[decl.logical_id] = dlq
        queue = sqs.Queue(
            self,
            decl.logical_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(decl.visibility_timeout_seconds),
            retention_period=Duration.seconds(decl.retention_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dlq, max_receive_count=decl.max_receive_count
            ),
        )
        _pin(queue, "queue", decl.logical_id)
        self.environment[decl.env_var] = queue.queue_url
        return queue

    def _secret(self, decl: Secret) -> secretsmanager.Secret:
        if decl.generated:
            secret = secretsmanager.Secret(
                self,
                decl.logical_id,
                description=decl.description,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=64, exclude_punctuation=True
                ),
            )
        else:
            # A placeholder no key hashes to: nothing authenticates until the
            # operator sets the real value, and redeploys never overwrite it.
            secret = secretsmanager.Secret(
                self,
                decl.logical_id,
                description=decl.description,
                secret_string_value=SecretValue.unsafe_plain_text(UNSET_SECRET),
            )
        _pin(secret, "secret", decl.logical_id)
        self.environment[decl.env_var] = secret.secret_arn
        return secret

    def _key(self, name: str) -> kms.Key:
        key = kms.Key(self, name, enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN)
        _pin(key, "key", name)
        self.environment[convention_env_var(name, "KEY_ARN")] = key.key_arn
        return key

    def _topic(self, decl: Topic) -> sns.Topic:
        """The fan-out topic, and each subscribing queue subscribed with raw delivery and a
        filter on the event type (prefix match), as `infra.provision` does locally."""
        topic = sns.Topic(
            self, decl.logical_id, master_key=self.keys[decl.kms_key], enforce_ssl=True
        )
        _pin(topic, "topic", decl.logical_id)
        for queue in self.resources.subscribers():
            topic.add_subscription(
                subscriptions.SqsSubscription(
                    self.queues[queue.logical_id],
                    raw_message_delivery=True,
                    filter_policy={
                        "event_type": sns.SubscriptionFilter.string_filter(
                            match_prefixes=list(queue.subscribes_to)
                        )
                    },
                )
            )
        self.environment[decl.env_var] = topic.topic_arn
        return topic

    def _state_machine(self, name: str, env_var: str) -> sfn.StateMachine:
        definition = (self.workflows_dir / f"{name}.asl.json").read_text()
        # Queue URLs reach the definition as ${<Queue>QueueUrl} substitutions;
        # the machine may send only to the queues its definition names.
        used = [q for q in self.queues if f"${{{q}QueueUrl}}" in definition]
        machine = sfn.StateMachine(
            self,
            name,
            # Inline (not an S3 asset), so cfn-lint checks the definition too.
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions={f"{q}QueueUrl": self.queues[q].queue_url for q in used},
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self, f"{name}Logs", retention=logs.RetentionDays.THREE_MONTHS
                ),
                level=sfn.LogLevel.ALL,
            ),
        )
        for queue in used:
            self.queues[queue].grant_send_messages(machine)
        # CDK makes the machine depend on its role, which its RoleArn already references
        # (cfn-lint W3005): keep only the dependency on the role's policy.
        child = machine.node.default_child
        assert isinstance(child, CfnResource)
        policy = machine.role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, CfnResource)
        child.add_override("DependsOn", [Stack.of(self).get_logical_id(policy)])
        _pin(machine, "state_machine", name)
        self.environment[env_var] = machine.state_machine_arn
        return machine
