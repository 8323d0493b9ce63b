"""Every DynamoDB key Custos uses, built in one place.

A tenant's items live in partitions that start with `T#<tenant>`, one partition per kind
of thing, so a list reads only its own kind and one tenant's history (audit events,
outbox) does not share a partition with its inventory:

| partition | sort key | what |
|---|---|---|
| `T#<t>` | `TENANT`, `ADMINS` | the tenant, its count of active admins |
| `T#<t>#PRINCIPAL` | principal id | principals |
| `T#<t>#MODEL` | model id | models (gsi1 `T#<t>#MODELS#<status>`: the inventory by status) |
| `T#<t>#MODEL#<model>` | `VERSION#000001` | a model's versions |
| `T#<t>#MODEL#<model>` | `ARTIFACT#000001#<name>` | a version's artifacts |
| `T#<t>#MODEL#<model>` | `DEPLOYMENT#000001#<id>` | a version's deployments, oldest first |
| `T#<t>#MODEL#<model>` | `DEPLOYED#000001#<env>#<digest>` | which deployment holds a target open |
| `T#<t>#AUDIT` | `EVENT#<seq:012>`, `HEAD`, `CHECKPOINT` | the audit chain |
| `T#<t>#ANCHOR` | `ANCHOR#<seq:012>` | the chain heads anchored to S3 under Object Lock |
| `T#<t>#OUTBOX` | `OUTBOX#<event id>` | domain events on their way out (TTL) |
| `T#<t>#IDEMPOTENCY` | `<principal>#<digest>` | stored first answers (TTL) |
| `T#<t>#POLICY` | `CURRENT`, `VERSION#000001` | the policy in force, and every version of it |
| `T#<t>#APPROVAL` | request id | approval requests (gsi1 `T#<t>#INBOX` while a stage is open) |
| `T#<t>#WORKFLOW#<request>` | `STAGE#<nn>#TOKEN` | task tokens (operational) |
| `T#<t>#METRIC#<model>#<n:06>` | `<name>#<observed_at>#<segment or ->` | metric points (TTL) |
| `T#<t>#METRICS` | `<model>#<n:06>` | each version's newest point per series (operational) |
| `T#<t>#PROCESSED` | `<consumer>#<message>` | messages a consumer has applied (TTL) |
| `T#<t>#WEBHOOK` | webhook id | webhook subscriptions (the secret only encrypted) |
| `T#<t>#WEBHOOK#<webhook>` | `HEALTH`, `DELIVERY#<id>` | its failing-since; its deliveries (TTL) |
| `T#<t>#FINDING` | finding id | findings (gsi1 `T#<t>#FINDINGS#<status>`, sorted `<model>#<id>`) |
| `T#<t>#FINDINGSUM` | model id | a model's counts: open findings by severity, accepted, blocking |
| `T#<t>#SCAN` | scan id | compliance scans: status, phase, counts (operational, TTL) |
| `T#<t>#EXPORT` | export id | exports: kind, format, status, the file's digest (operational) |
| `APIKEY#<key>` | `APIKEY` | API-key lookup; index gsi1 `T#<t>#APIKEYS` |
| `PLATFORM#IDEMPOTENCY` | `<digest>` | the platform operator's stored answers |

An artifact's bytes live in S3 under `tenants/<t>/models/<model>/versions/000001/artifacts/<name>`
(`TenantKeys.object_key`): the same zero-padded numbers, so one listing of the tenant's
object versions walks in the order of its version and artifact items. The chain's anchors
live in a bucket of their own (Object Lock), under `tenants/<t>/audit/anchors/<seq:012>.json`.

An export's file lives in the exports bucket under `tenants/<t>/exports/<export>.<csv|jsonl>`
(`TenantKeys.export_object_key`).

The only items outside a tenant's partitions are the API-key lookup items (authentication
must find the tenant from the key id) and the platform's; they carry the tenant id as an
attribute and stores check it against the caller's. Tenants are listed for the platform
through gsi1 (`TENANTS`); deployments sit in gsi1 too, one partition per tenant and
environment (`T#<t>#DEPLOYED#<environment>`) sorted by valid-until (`OPEN#<id>` while open,
after every time), so "what ran at time X" reads only what was still running after X; and
task tokens whose callback is still owed through gsi1
(`CALLBACKS#PENDING`, a sparse index the reconciler reads); and webhook deliveries with an
attempt to come (`WEBHOOKS#DUE#<shard>`, sorted by the attempt's time, a sparse index the
delivery sweeper reads); approved and submitted versions across the tenant's models
(`T#<t>#VERSIONS#<status>`, sorted `<model>#<number>`, which the compliance scan pages
through in the order of the tenant's artifact objects); and findings by status.
"""

from __future__ import annotations

import hashlib

Key = dict[str, str]

TENANT_SK = "TENANT"
TENANTS_GSI_PK = "TENANTS"
PENDING_CALLBACKS_GSI_PK = "CALLBACKS#PENDING"
OUTBOX_PREFIX = "OUTBOX#"
VERSION_PREFIX = "VERSION#"
ARTIFACT_PREFIX = "ARTIFACT#"
DEPLOYMENT_PREFIX = "DEPLOYMENT#"
# gsi1's sort key of an open deployment: after every valid-until time (digits sort first).
OPEN_DEPLOYMENT = "OPEN#"
POLICY_VERSION_PREFIX = "VERSION#"
AUDIT_EVENT_PREFIX = "EVENT#"
ANCHOR_PREFIX = "ANCHOR#"
MAX_SEQ = 10**12 - 1
DELIVERY_PREFIX = "DELIVERY#"
# Deliveries due an attempt, spread over a few gsi1 partitions so a busy hour of retries
# does not all land on one; the sweeper reads each.
DUE_DELIVERY_SHARDS = 4


def due_deliveries_pk(shard: int) -> str:
    return f"WEBHOOKS#DUE#{shard}"


def due_shard(delivery_id: str) -> int:
    return int(hashlib.sha256(delivery_id.encode()).hexdigest(), 16) % DUE_DELIVERY_SHARDS


def tenant_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def in_tenant(partition: str, tenant_id: str) -> bool:
    """Whether a partition key value belongs to `tenant_id`'s key space."""
    root = tenant_pk(tenant_id)
    return partition == root or partition.startswith(root + "#")


def api_key_key(key_id: str) -> Key:
    """An API key's lookup item, found by key id alone (before the tenant is known)."""
    return {"pk": f"APIKEY#{key_id}", "sk": "APIKEY"}


def platform_idempotency_key(key: str) -> Key:
    return {"pk": "PLATFORM#IDEMPOTENCY", "sk": _digest(key)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def audit_event_sk(seq: int) -> str:
    return f"{AUDIT_EVENT_PREFIX}{seq:012d}"


class TenantKeys:
    """The keys of one tenant's items; a store bound to a tenant builds keys only here."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.root = tenant_pk(tenant_id)

    # --- partitions (what lists Query) -------------------------------------------

    @property
    def principals(self) -> str:
        return f"{self.root}#PRINCIPAL"

    @property
    def models(self) -> str:
        return f"{self.root}#MODEL"

    def versions(self, model_id: str) -> str:
        return f"{self.root}#MODEL#{model_id}"

    def models_by_status(self, status: str) -> str:
        """gsi1's partition of the tenant's models in `status`."""
        return f"{self.root}#MODELS#{status}"

    def deployed(self, environment: str) -> str:
        """gsi1's partition of the tenant's deployments to `environment`, by valid-until."""
        return f"{self.root}#DEPLOYED#{environment}"

    @property
    def audit(self) -> str:
        return f"{self.root}#AUDIT"

    @property
    def api_keys_index(self) -> str:
        """gsi1's partition of the tenant's API keys."""
        return f"{self.root}#APIKEYS"

    @property
    def approvals(self) -> str:
        return f"{self.root}#APPROVAL"

    @property
    def inbox(self) -> str:
        """gsi1's partition of the tenant's requests with an open stage (sparse)."""
        return f"{self.root}#INBOX"

    def workflow(self, request_id: str) -> str:
        return f"{self.root}#WORKFLOW#{request_id}"

    # --- items -------------------------------------------------------------------

    def tenant(self) -> Key:
        return {"pk": self.root, "sk": TENANT_SK}

    def admin_count(self) -> Key:
        return {"pk": self.root, "sk": "ADMINS"}

    def principal(self, principal_id: str) -> Key:
        return {"pk": self.principals, "sk": principal_id}

    def model(self, model_id: str) -> Key:
        return {"pk": self.models, "sk": model_id}

    def version(self, model_id: str, number: int) -> Key:
        return {"pk": self.versions(model_id), "sk": f"{VERSION_PREFIX}{number:06d}"}

    def artifacts(self, number: int) -> str:
        """The sort-key prefix of a version's artifacts (in its model's partition)."""
        return f"{ARTIFACT_PREFIX}{number:06d}#"

    def artifact(self, model_id: str, number: int, name: str) -> Key:
        return {"pk": self.versions(model_id), "sk": f"{self.artifacts(number)}{name}"}

    def deployments(self, number: int) -> str:
        """The sort-key prefix of a version's deployments (in its model's partition)."""
        return f"{DEPLOYMENT_PREFIX}{number:06d}#"

    def deployment(self, model_id: str, number: int, deployment_id: str) -> Key:
        return {"pk": self.versions(model_id), "sk": f"{self.deployments(number)}{deployment_id}"}

    def deployed_target(self, model_id: str, number: int, environment: str, target: str) -> Key:
        """The item naming the open deployment of a version to `target` in `environment`."""
        sk = f"DEPLOYED#{number:06d}#{environment}#{_digest(target)}"
        return {"pk": self.versions(model_id), "sk": sk}

    @property
    def objects(self) -> str:
        """The prefix of every S3 object of the tenant."""
        return f"tenants/{self.tenant_id}/"

    def object_key(self, model_id: str, number: int, name: str) -> str:
        """The S3 key of an artifact's bytes."""
        return f"{self.objects}models/{model_id}/versions/{number:06d}/artifacts/{name}"

    def evidence_object_key(self, request_id: str, name: str) -> str:
        """The S3 key of an evidence file of an approval request."""
        return f"{self.objects}approvals/{request_id}/evidence/{name}"

    def export_object_key(self, export_id: str, extension: str) -> str:
        """The S3 key of an export's file (in the exports bucket)."""
        return f"{self.objects}exports/{export_id}.{extension}"

    @property
    def exports(self) -> str:
        return f"{self.root}#EXPORT"

    def export(self, export_id: str) -> Key:
        return {"pk": self.exports, "sk": export_id}

    def audit_head(self) -> Key:
        return {"pk": self.audit, "sk": "HEAD"}

    def audit_checkpoint(self) -> Key:
        return {"pk": self.audit, "sk": "CHECKPOINT"}

    def audit_event(self, seq: int) -> Key:
        return {"pk": self.audit, "sk": audit_event_sk(seq)}

    @property
    def anchors(self) -> str:
        """The partition of the tenant's audit anchors, by sequence number."""
        return f"{self.root}#ANCHOR"

    def anchor(self, seq: int) -> Key:
        return {"pk": self.anchors, "sk": f"{ANCHOR_PREFIX}{seq:012d}"}

    @property
    def anchor_objects(self) -> str:
        """The prefix of the tenant's anchor objects (in the anchors bucket)."""
        return f"{self.objects}audit/anchors/"

    def anchor_object_key(self, seq: int) -> str:
        """The S3 key of the anchor of chain head `seq`: one object per anchored sequence."""
        return f"{self.anchor_objects}{seq:012d}.json"

    def outbox(self, event_id: str) -> Key:
        return {"pk": f"{self.root}#OUTBOX", "sk": OUTBOX_PREFIX + event_id}

    def idempotency(self, principal_id: str, key: str) -> Key:
        return {"pk": f"{self.root}#IDEMPOTENCY", "sk": f"{principal_id}#{_digest(key)}"}

    @property
    def policies(self) -> str:
        return f"{self.root}#POLICY"

    def policy_current(self) -> Key:
        """The policy in force (a copy of its latest version)."""
        return {"pk": self.policies, "sk": "CURRENT"}

    def policy_version(self, version: int) -> Key:
        return {"pk": self.policies, "sk": f"{POLICY_VERSION_PREFIX}{version:06d}"}

    def approval(self, request_id: str) -> Key:
        return {"pk": self.approvals, "sk": request_id}

    def task_token(self, request_id: str, stage: int) -> Key:
        return {"pk": self.workflow(request_id), "sk": f"STAGE#{stage:02d}#TOKEN"}

    def metric_points(self, model_id: str, number: int) -> str:
        """The partition of a version's metric data points, by name, then time."""
        return f"{self.root}#METRIC#{model_id}#{number:06d}"

    def metric_point(
        self, model_id: str, number: int, name: str, observed_at: str, segment: str | None
    ) -> Key:
        """A data point: the same name, time and segment is the same item (a retried batch
        overwrites). Names and segments hold no `#`; `-` stands for no segment."""
        sk = f"{name}#{observed_at}#{segment or '-'}"
        return {"pk": self.metric_points(model_id, number), "sk": sk}

    @property
    def metric_summaries(self) -> str:
        return f"{self.root}#METRICS"

    def metric_summary(self, model_id: str, number: int) -> Key:
        """A version's newest point per (name, segment) series, and its newest time."""
        return {"pk": self.metric_summaries, "sk": f"{model_id}#{number:06d}"}

    @property
    def webhooks(self) -> str:
        return f"{self.root}#WEBHOOK"

    def webhook(self, webhook_id: str) -> Key:
        return {"pk": self.webhooks, "sk": webhook_id}

    def webhook_log(self, webhook_id: str) -> str:
        """The partition of a subscription's health and deliveries."""
        return f"{self.root}#WEBHOOK#{webhook_id}"

    def webhook_health(self, webhook_id: str) -> Key:
        return {"pk": self.webhook_log(webhook_id), "sk": "HEALTH"}

    def delivery(self, webhook_id: str, delivery_id: str) -> Key:
        return {"pk": self.webhook_log(webhook_id), "sk": DELIVERY_PREFIX + delivery_id}

    def versions_by_status(self, status: str) -> str:
        """gsi1's partition of the tenant's versions in `status` (approved and submitted
        only: a sparse index)."""
        return f"{self.root}#VERSIONS#{status}"

    @property
    def findings(self) -> str:
        return f"{self.root}#FINDING"

    def finding(self, finding_id: str) -> Key:
        return {"pk": self.findings, "sk": finding_id}

    def findings_by_status(self, status: str) -> str:
        """gsi1's partition of the tenant's findings in `status`, sorted `<model>#<id>`."""
        return f"{self.root}#FINDINGS#{status}"

    def finding_summary(self, model_id: str) -> Key:
        return {"pk": f"{self.root}#FINDINGSUM", "sk": model_id}

    @property
    def scans(self) -> str:
        return f"{self.root}#SCAN"

    def scan(self, scan_id: str) -> Key:
        return {"pk": self.scans, "sk": scan_id}

    def processed(self, consumer: str, message_key: str) -> Key:
        """The marker that `consumer` has applied the message `message_key` names."""
        return {"pk": f"{self.root}#PROCESSED", "sk": f"{consumer}#{_digest(message_key)}"}
