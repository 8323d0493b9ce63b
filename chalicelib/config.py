"""Settings read from the environment, once, on first use (never at import)."""

from __future__ import annotations

import os
from functools import cache
from typing import NamedTuple

MIB = 1024 * 1024
GIB = 1024 * MIB


class ArtifactSettings(NamedTuple):
    """Limits of artifact uploads and of their verification (the README's "Artifacts")."""

    max_bytes: int  # the largest artifact a version takes
    sync_verify_bytes: int  # up to this `complete` verifies in the call; above, a consumer does
    multipart_bytes: int  # above this the upload is multipart
    part_bytes: int  # the part size of a multipart upload (S3: at least 5 MiB)
    upload_seconds: int  # how long upload URLs stay valid
    download_seconds: int  # how long a download URL stays valid


class WebhookSettings(NamedTuple):
    """How webhooks are delivered (the README's "Webhooks")."""

    key_arn: str  # the KMS key that encrypts signing secrets
    deliveries_queue_url: str  # one message per delivery attempt
    slow_queue_url: str  # the same, for subscriptions slow or failing lately
    timeout_seconds: float  # a receiver has this long to answer an attempt
    # Local development only: receivers on loopback addresses (127.0.0.0/8, ::1,
    # localhost) are allowed. Off unless CUSTOS_WEBHOOKS_ALLOW_LOOPBACK=true.
    allow_loopback: bool
    # A retry due within this many seconds is sent with an SQS delay; later ones (and any
    # message lost on the way) the sweeper sends when due. SQS delays stop at 15 minutes.
    queue_delay_max_seconds: int
    lease_seconds: int  # an attempt in flight holds its delivery this long


class ExportSettings(NamedTuple):
    """Where export files go and how they are written (the README's "Reports and exports")."""

    bucket: str  # the exports bucket (its own, with a lifecycle expiry)
    part_bytes: int  # the multipart upload's part size (S3: at least 5 MiB but the last)
    download_seconds: int  # how long a download URL stays valid (signed at each read)
    lease_seconds: int  # a run holds its export this long (above the consumer's timeout)


class Settings(NamedTuple):
    table: str
    bucket: str
    events_topic_arn: str
    approval_state_machine_arn: str
    platform_key_secret: str
    cursor_key_secret: str
    region: str
    auth_cache_seconds: float
    max_body_bytes: int
    artifact: ArtifactSettings
    webhooks: WebhookSettings
    exports: ExportSettings
    # Where clients reach the API (`https://custos.example.com`), for absolute links in
    # events; empty when the deployment does not say, and events carry paths only.
    public_base_url: str
    # The queue that takes one message per tenant to scan (the nightly schedule sends them).
    scans_queue_url: str = ""


@cache
def settings() -> Settings:
    """The process's settings; `settings.cache_clear()` re-reads them (tests)."""
    env = os.environ
    return Settings(
        table=env.get("CUSTOS_TABLE", "custos-main"),
        bucket=env.get("CUSTOS_BUCKET", "custos-artifacts"),
        events_topic_arn=env.get("CUSTOS_EVENTS_TOPIC_ARN", ""),
        approval_state_machine_arn=env.get("CUSTOS_APPROVAL_STATE_MACHINE_ARN", ""),
        platform_key_secret=env.get("CUSTOS_PLATFORM_KEY_SECRET", "custos/platform-key-hash"),
        cursor_key_secret=env.get("CUSTOS_CURSOR_KEY_SECRET", "custos/cursor-signing-key"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        auth_cache_seconds=float(env.get("CUSTOS_AUTH_CACHE_SECONDS", "30")),
        max_body_bytes=int(env.get("CUSTOS_MAX_BODY_BYTES", str(256 * 1024))),
        artifact=ArtifactSettings(
            max_bytes=int(env.get("CUSTOS_ARTIFACT_MAX_BYTES", str(5 * GIB))),
            sync_verify_bytes=int(env.get("CUSTOS_ARTIFACT_SYNC_VERIFY_BYTES", str(16 * MIB))),
            multipart_bytes=int(env.get("CUSTOS_ARTIFACT_MULTIPART_BYTES", str(64 * MIB))),
            part_bytes=int(env.get("CUSTOS_ARTIFACT_PART_BYTES", str(64 * MIB))),
            upload_seconds=int(env.get("CUSTOS_ARTIFACT_UPLOAD_SECONDS", "900")),
            download_seconds=int(env.get("CUSTOS_ARTIFACT_DOWNLOAD_SECONDS", "300")),
        ),
        webhooks=WebhookSettings(
            key_arn=env.get("CUSTOS_WEBHOOKS_KEY_ARN", ""),
            deliveries_queue_url=env.get("CUSTOS_WEBHOOK_DELIVERIES_QUEUE_URL", ""),
            slow_queue_url=env.get("CUSTOS_WEBHOOK_DELIVERIES_SLOW_QUEUE_URL", ""),
            timeout_seconds=float(env.get("CUSTOS_WEBHOOKS_TIMEOUT_SECONDS", "5")),
            allow_loopback=env.get("CUSTOS_WEBHOOKS_ALLOW_LOOPBACK", "").lower() == "true",
            queue_delay_max_seconds=int(env.get("CUSTOS_WEBHOOKS_QUEUE_DELAY_MAX_SECONDS", "900")),
            lease_seconds=int(env.get("CUSTOS_WEBHOOKS_LEASE_SECONDS", "30")),
        ),
        exports=ExportSettings(
            bucket=env.get("CUSTOS_EXPORTS_BUCKET", "custos-exports"),
            part_bytes=max(5 * MIB, int(env.get("CUSTOS_EXPORT_PART_BYTES", str(8 * MIB)))),
            download_seconds=int(env.get("CUSTOS_EXPORT_DOWNLOAD_SECONDS", "900")),
            lease_seconds=int(env.get("CUSTOS_EXPORT_LEASE_SECONDS", "960")),
        ),
        public_base_url=env.get("CUSTOS_PUBLIC_BASE_URL", "").rstrip("/"),
        scans_queue_url=env.get("CUSTOS_COMPLIANCE_SCANS_QUEUE_URL", ""),
    )
