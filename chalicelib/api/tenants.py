"""Tenants: the platform operator's routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, Reply, endpoint, etag

if TYPE_CHECKING:
    from chalicelib.domain.models import ApiKeyCreated, TenantCreated

bp = Blueprint(__name__)
TAG = "Tenants"


def _created(result: TenantCreated) -> Reply:
    tenant = result.tenant
    headers = {"Location": f"/v1/tenants/{tenant.id}", "ETag": etag(tenant.revision)}
    return Reply(result, 201, headers)


def _admin_key_location(tenant_id: str) -> Callable[[ApiKeyCreated], Reply]:
    def created(key: ApiKeyCreated) -> Reply:
        return Reply(key, 201, {"Location": f"/v1/tenants/{tenant_id}/admin-keys/{key.id}"})

    return created


@endpoint(
    bp,
    "POST",
    "/v1/tenants",
    summary="Create a tenant with its first admin and key",
    tag=TAG,
    auth="platform",
    request="chalicelib.domain.models:TenantCreate",
    response="chalicelib.domain.models:TenantCreated",
    status=201,
    idempotent=True,
)
def create_tenant(req: ApiRequest) -> Reply:
    from chalicelib.services import tenants

    return _created(tenants.create_tenant(req.actor, req.body, req.claim_for(_created)))


@endpoint(
    bp,
    "GET",
    "/v1/tenants",
    summary="List tenants",
    tag=TAG,
    auth="platform",
    response="chalicelib.domain.models:TenantList",
    query=(LIMIT, CURSOR),
)
def list_tenants(req: ApiRequest) -> Reply:
    from chalicelib.services import reads

    return Reply(reads.tenants_page(req.limit, req.cursor))


@endpoint(
    bp,
    "GET",
    "/v1/tenants/{tenant_id}",
    summary="Get a tenant",
    tag=TAG,
    auth="platform",
    response="chalicelib.domain.models:Tenant",
)
def get_tenant(req: ApiRequest, tenant_id: str) -> Reply:
    from chalicelib.services import reads

    tenant = reads.tenant(tenant_id)
    return Reply(tenant, headers={"ETag": etag(tenant["revision"])})


@endpoint(
    bp,
    "PATCH",
    "/v1/tenants/{tenant_id}",
    summary="Rename, suspend or reactivate a tenant (merge-patch)",
    tag=TAG,
    auth="platform",
    request="chalicelib.domain.models:TenantPatch",
    response="chalicelib.domain.models:Tenant",
    if_match=True,
)
def update_tenant(req: ApiRequest, tenant_id: str) -> Reply:
    from chalicelib.services import tenants

    tenant = tenants.update_tenant(req.actor, tenant_id, req.body, req.expected_revision)
    return Reply(tenant, headers={"ETag": etag(tenant.revision)})


@endpoint(
    bp,
    "POST",
    "/v1/tenants/{tenant_id}/admin-keys",
    summary="Break-glass: issue a key for one of the tenant's admins (audited in its trail)",
    tag=TAG,
    auth="platform",
    request="chalicelib.domain.models:AdminKeyIssue",
    response="chalicelib.domain.models:ApiKeyCreated",
    status=201,
    idempotent=True,
    errors=(422,),
)
def issue_admin_key(req: ApiRequest, tenant_id: str) -> Reply:
    from chalicelib.services import tenants

    created = _admin_key_location(tenant_id)
    claim = req.claim_for(created)
    return created(tenants.issue_admin_key(req.actor, tenant_id, req.body, claim))


@endpoint(
    bp,
    "GET",
    "/v1/tenants/{tenant_id}/admin-keys/{key_id}",
    summary="Get a break-glass key the platform issued (never its secret)",
    tag=TAG,
    auth="platform",
    response="chalicelib.domain.models:ApiKey",
)
def get_admin_key(req: ApiRequest, tenant_id: str, key_id: str) -> Reply:
    from chalicelib.services import reads

    return Reply(reads.admin_key(tenant_id, key_id))
