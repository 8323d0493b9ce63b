"""The one declaration of Custos's AWS resources, as plain data.

The local stack (`infra/local.py`), the test fixtures and the CDK stack
(`infra/cdk`) all build from this module, so a resource added here that one of
them does not build is caught by `tests/infra/test_drift.py`.

No aws_cdk import here: this module must stay importable by the tests and the
local stack without the CDK dependencies installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Index:
    """A global secondary index (string keys, projection ALL)."""

    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class Table:
    """A DynamoDB table, on-demand billed, with string keys."""

    logical_id: str
    env_var: str
    partition_key: str
    sort_key: str
    indexes: tuple[Index, ...] = ()
    stream_view_type: str | None = None
    ttl_attribute: str | None = None
    point_in_time_recovery: bool = True
    deletion_protection: bool = True


@dataclass(frozen=True)
class Bucket:
    """An S3 bucket: private, encrypted, TLS only."""

    logical_id: str
    env_var: str
    versioned: bool = True
    abort_incomplete_multipart_days: int = 7


@dataclass(frozen=True)
class Queue:
    """A standard SQS queue with a dead-letter queue."""

    logical_id: str
    env_var: str
    visibility_timeout_seconds: int = 60
    retention_seconds: int = 4 * 24 * 3600
    max_receive_count: int = 5
    dlq_retention_seconds: int = 14 * 24 * 3600


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret.

    `generated` secrets get a random value at deploy time (CDK) or stack start
    (local); the others are set by the operator (the platform key's hash).
    """

    logical_id: str
    env_var: str
    description: str
    generated: bool = False


@dataclass(frozen=True)
class StreamConsumer:
    """A Chalice `@app.lambda_function` fed by a table's stream, as Lambda would.

    `event_names` and `sort_key_prefix` filter the records before the function
    sees them (Lambda's filter criteria), so it is not invoked for every write.
    """

    function: str
    table: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    maximum_retry_attempts: int = 10
    bisect_batch_on_error: bool = True
    event_names: tuple[str, ...] = ()
    sort_key_prefix: str | None = None

    def filter_pattern(self, sort_key: str) -> dict[str, object] | None:
        """The Lambda event-filter pattern of this binding, or None to take every record."""
        pattern: dict[str, object] = {}
        if self.event_names:
            pattern["eventName"] = list(self.event_names)
        if self.sort_key_prefix:
            prefix = [{"prefix": self.sort_key_prefix}]
            pattern["dynamodb"] = {"Keys": {sort_key: {"S": prefix}}}
        return pattern or None

    def accepts(self, record: dict[str, Any], sort_key: str) -> bool:
        """Whether a stream record passes the filter (what the local dispatcher applies)."""
        if self.event_names and record.get("eventName") not in self.event_names:
            return False
        if self.sort_key_prefix:
            value = record.get("dynamodb", {}).get("Keys", {}).get(sort_key, {}).get("S", "")
            return str(value).startswith(self.sort_key_prefix)
        return True


@dataclass(frozen=True)
class QueueConsumer:
    """A Chalice `@app.lambda_function` fed by an SQS queue."""

    function: str
    queue: str
    batch_size: int = 10


@dataclass(frozen=True)
class Resources:
    tables: tuple[Table, ...]
    buckets: tuple[Bucket, ...]
    queues: tuple[Queue, ...]
    secrets: tuple[Secret, ...]
    stream_consumers: tuple[StreamConsumer, ...] = ()
    queue_consumers: tuple[QueueConsumer, ...] = ()
    state_machines: tuple[str, ...] = ()
    kms_keys: tuple[str, ...] = ()
    api_throttle: dict[str, int] = field(
        default_factory=lambda: {"rate_limit": 100, "burst_limit": 200}
    )

    def table(self, logical_id: str) -> Table:
        return next(t for t in self.tables if t.logical_id == logical_id)

    def queue(self, logical_id: str) -> Queue:
        return next(q for q in self.queues if q.logical_id == logical_id)


MAIN_TABLE = Table(
    logical_id="Main",
    env_var="CUSTOS_TABLE",
    partition_key="pk",
    sort_key="sk",
    indexes=(Index(name="gsi1", partition_key="gsi1pk", sort_key="gsi1sk"),),
    stream_view_type="NEW_IMAGE",
    ttl_attribute="expires_at",
)

ARTIFACTS_BUCKET = Bucket(logical_id="Artifacts", env_var="CUSTOS_BUCKET")

EVENTS_QUEUE = Queue(
    logical_id="DomainEvents",
    env_var="CUSTOS_EVENTS_QUEUE_URL",
    visibility_timeout_seconds=60,
)

PLATFORM_KEY_SECRET = Secret(
    logical_id="PlatformKeyHash",
    env_var="CUSTOS_PLATFORM_KEY_SECRET",
    description="SHA-256 hex digest of the platform operator's API key",
)

CURSOR_KEY_SECRET = Secret(
    logical_id="CursorSigningKey",
    env_var="CUSTOS_CURSOR_KEY_SECRET",
    description="HMAC key that signs pagination cursors",
    generated=True,
)

RESOURCES = Resources(
    tables=(MAIN_TABLE,),
    buckets=(ARTIFACTS_BUCKET,),
    queues=(EVENTS_QUEUE,),
    secrets=(PLATFORM_KEY_SECRET, CURSOR_KEY_SECRET),
    stream_consumers=(
        StreamConsumer(
            function="outbox_relay",
            table="Main",
            event_names=("INSERT",),
            sort_key_prefix="OUTBOX#",
        ),
    ),
)
