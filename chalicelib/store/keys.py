"""Every DynamoDB key Custos uses, built in one place.

Tenant data lives under the partition `T#<tenant>`; the only items outside a
tenant's partition are the platform's tenant index (GSI) and the API-key lookup
items, which authentication must find before it knows the tenant. Those carry
the tenant id as an attribute and stores check it against the caller's.
"""

from __future__ import annotations

import hashlib

Key = dict[str, str]

TENANT_SK = "TENANT"
TENANTS_GSI_PK = "TENANTS"
AUDIT_HEAD_SK = "AUDIT#HEAD"
AUDIT_CHECKPOINT_SK = "AUDIT#CHECKPOINT"
AUDIT_EVENT_PREFIX = "AUDIT#EVENT#"
PRINCIPAL_PREFIX = "PRINCIPAL#"
MODEL_PREFIX = "MODEL#"
VERSION_PREFIX = "VERSION#"
OUTBOX_PREFIX = "OUTBOX#"
PLATFORM_PK = "PLATFORM"


def tenant_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def tenant_key(tenant_id: str) -> Key:
    return {"pk": tenant_pk(tenant_id), "sk": TENANT_SK}


def principal_key(tenant_id: str, principal_id: str) -> Key:
    return {"pk": tenant_pk(tenant_id), "sk": PRINCIPAL_PREFIX + principal_id}


def admin_count_key(tenant_id: str) -> Key:
    return {"pk": tenant_pk(tenant_id), "sk": "ADMINS"}


def api_key_key(key_id: str) -> Key:
    return {"pk": f"APIKEY#{key_id}", "sk": "APIKEY"}


def api_keys_gsi_pk(tenant_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#APIKEYS"


def model_key(tenant_id: str, model_id: str) -> Key:
    return {"pk": tenant_pk(tenant_id), "sk": MODEL_PREFIX + model_id}


def version_prefix(model_id: str) -> str:
    return f"{VERSION_PREFIX}{model_id}#"


def version_key(tenant_id: str, model_id: str, number: int) -> Key:
    return {"pk": tenant_pk(tenant_id), "sk": f"{version_prefix(model_id)}{number:06d}"}


def audit_head_key(tenant_id: str) -> Key:
    return {"pk": tenant_pk(tenant_id), "sk": AUDIT_HEAD_SK}


def audit_checkpoint_key(tenant_id: str) -> Key:
    return {"pk": tenant_pk(tenant_id), "sk": AUDIT_CHECKPOINT_SK}


def audit_event_sk(seq: int) -> str:
    return f"{AUDIT_EVENT_PREFIX}{seq:012d}"


def audit_event_key(tenant_id: str, seq: int) -> Key:
    return {"pk": tenant_pk(tenant_id), "sk": audit_event_sk(seq)}


def outbox_key(tenant_id: str | None, event_id: str) -> Key:
    pk = tenant_pk(tenant_id) if tenant_id else PLATFORM_PK
    return {"pk": pk, "sk": OUTBOX_PREFIX + event_id}


def idempotency_key(tenant_id: str | None, principal_id: str, key: str) -> Key:
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    pk = tenant_pk(tenant_id) if tenant_id else PLATFORM_PK
    return {"pk": pk, "sk": f"IDEMPOTENCY#{principal_id}#{digest}"}
