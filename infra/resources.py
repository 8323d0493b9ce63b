"""The one declaration of Custos's AWS resources, as plain data.

Tables, buckets, secrets, the fan-out topic and the KMS keys are declared here; the
queues, their consumers, the stream consumers, the schedules and the state machines come
from the app's own entry-point declarations (`chalicelib.entrypoints`), so a consumer
declared with its queue in chalicelib is provisioned, deployed, drift-checked and
dispatched without being listed again. The local stack (`infra/local.py`), the test
fixtures and the CDK stack (`infra/cdk`) all build from `RESOURCES`, and
`tests/infra/test_drift.py` catches a resource one of them does not build.

No aws_cdk import here: this module must stay importable by the tests and the local
stack without the CDK dependencies installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.entrypoints import Queue, QueueConsumer, Schedule, StateMachine, StreamConsumer

__all__ = [
    "RESOURCES",
    "Bucket",
    "Index",
    "Queue",
    "QueueConsumer",
    "Resources",
    "Schedule",
    "Secret",
    "StateMachine",
    "StreamConsumer",
    "Table",
    "Topic",
]


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
    # Objects are deleted this many days after they were written (None: kept).
    expiration_days: int | None = None
    # Object Lock on, with this default retention in compliance mode (days); None: off.
    # Objects can then only be added: no version is deleted or overwritten before its
    # retention ends, by anyone, the account's root included.
    object_lock_days: int | None = None


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
class Topic:
    """The SNS topic the outbox relay publishes to, encrypted with a declared KMS key.

    Every queue that `subscribes_to` event types is subscribed with raw delivery and a
    filter policy on the `event_type` message attribute (prefix match)."""

    logical_id: str
    env_var: str
    kms_key: str


@dataclass(frozen=True)
class Resources:
    tables: tuple[Table, ...]
    buckets: tuple[Bucket, ...]
    queues: tuple[Queue, ...]
    secrets: tuple[Secret, ...]
    stream_consumers: tuple[StreamConsumer, ...] = ()
    queue_consumers: tuple[QueueConsumer, ...] = ()
    state_machines: tuple[StateMachine, ...] = ()
    kms_keys: tuple[str, ...] = ()
    topics: tuple[Topic, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    api_throttle: dict[str, int] = field(
        default_factory=lambda: {"rate_limit": 100, "burst_limit": 200}
    )

    def table(self, logical_id: str) -> Table:
        return next(t for t in self.tables if t.logical_id == logical_id)

    def queue(self, logical_id: str) -> Queue:
        return next(q for q in self.queues if q.logical_id == logical_id)

    def subscribers(self) -> tuple[Queue, ...]:
        """The queues fed by the fan-out topic."""
        return tuple(q for q in self.queues if q.subscribes_to)


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
# Export files (`tenants/<t>/exports/<id>.<ext>`): regenerated on request, so unversioned,
# and deleted 30 days after they were written.
EXPORTS_BUCKET = Bucket(
    logical_id="Exports",
    env_var="CUSTOS_EXPORTS_BUCKET",
    versioned=False,
    abort_incomplete_multipart_days=1,
    expiration_days=30,
)
# The audit chain's anchors (`chalicelib/store/anchors.py`): every object is written with
# its tenant's retention; the default retention is the floor (the EU AI Act's six months).
ANCHORS_BUCKET = Bucket(logical_id="Anchors", env_var="CUSTOS_ANCHORS_BUCKET", object_lock_days=183)

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

EVENTS_TOPIC = Topic(logical_id="DomainEvents", env_var="CUSTOS_EVENTS_TOPIC_ARN", kms_key="Events")
# Seals webhook signing secrets (`chalicelib/store/sealed.py`): the API encrypts, the
# delivery worker decrypts, under an encryption context naming the tenant and subscription.
WEBHOOKS_KEY = "Webhooks"


def _declared() -> Resources:
    """The resources, with everything the app's entry points declare."""
    import app  # noqa: F401  (importing the app runs every declaration)
    from chalicelib import entrypoints

    return Resources(
        tables=(MAIN_TABLE,),
        buckets=(ARTIFACTS_BUCKET, EXPORTS_BUCKET, ANCHORS_BUCKET),
        queues=tuple(entrypoints.QUEUES.values()),
        secrets=(PLATFORM_KEY_SECRET, CURSOR_KEY_SECRET),
        stream_consumers=tuple(entrypoints.STREAM_CONSUMERS),
        queue_consumers=tuple(entrypoints.CONSUMERS),
        state_machines=tuple(entrypoints.STATE_MACHINES),
        kms_keys=(EVENTS_TOPIC.kms_key, WEBHOOKS_KEY),
        topics=(EVENTS_TOPIC,),
        schedules=tuple(entrypoints.SCHEDULES),
    )


RESOURCES = _declared()
