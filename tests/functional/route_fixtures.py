"""Shared setup for the route-table tests (isolation and permissions).

Both files check every route of the app against every role or tenant, so they
build one world per module (its own moto, its own tenants) instead of one per
test, read the route table from the app itself, and share the permission table
below, which is written by hand from the README's "Who may do what" and never derived from
the code's REGISTRY: a table copied from the code could not catch a wrong role.
"""

from __future__ import annotations

# moto before anything that builds a boto3 client (conftest imports it first as well).
from moto import mock_aws  # isort: skip

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from chalice.test import Client

from tests.conftest import PLATFORM_KEY, Answer, Api, Tenant

Route = tuple[str, str]  # (method, path template as the app declares it)

PLATFORM = "platform"
ANONYMOUS = "anonymous"
TENANT_ROLES = ("admin", "developer", "validator", "approver", "auditor", "monitor")
ALL_ROLES = (PLATFORM, *TENANT_ROLES, ANONYMOUS)

_EVERY_TENANT_ROLE = frozenset(TENANT_ROLES)
_EVERYONE = frozenset(ALL_ROLES)
_PLATFORM_ONLY = frozenset({PLATFORM})
_ADMIN = frozenset({"admin"})
_DEVELOPER = frozenset({"developer"})
_AUDIT_READERS = frozenset({"auditor", "admin"})
_DECIDERS = frozenset({"validator", "approver"})
_DEPLOYERS = frozenset({"developer", "monitor", "admin"})
_RETIRERS = frozenset({"developer", "admin"})
_REPORTERS = frozenset({"monitor", "developer", "admin"})

# The README's "Who may do what", as the route-level role gate. Finer rules (the
# model's team, separation of duties) narrow these further and are tested elsewhere.
PERMISSIONS: dict[Route, frozenset[str]] = {
    ("GET", "/v1/health"): _EVERYONE,
    ("GET", "/v1/openapi.json"): _EVERYONE,
    ("GET", "/v1/me"): _EVERY_TENANT_ROLE | {PLATFORM},
    # a principal lists and rotates its own keys (another's is a 404 past the gate)
    ("GET", "/v1/me/api-keys"): _EVERY_TENANT_ROLE,
    ("POST", "/v1/me/api-keys/{key_id}/rotate"): _EVERY_TENANT_ROLE,
    # create tenant, suspend tenant: platform
    ("POST", "/v1/tenants"): _PLATFORM_ONLY,
    ("GET", "/v1/tenants"): _PLATFORM_ONLY,
    ("GET", "/v1/tenants/{tenant_id}"): _PLATFORM_ONLY,
    ("PATCH", "/v1/tenants/{tenant_id}"): _PLATFORM_ONLY,
    # break-glass: the platform issues a key for a tenant's admin
    ("POST", "/v1/tenants/{tenant_id}/admin-keys"): _PLATFORM_ONLY,
    ("GET", "/v1/tenants/{tenant_id}/admin-keys/{key_id}"): _PLATFORM_ONLY,
    # principals, roles, API keys: admin
    ("POST", "/v1/principals"): _ADMIN,
    ("GET", "/v1/principals"): _ADMIN,
    ("GET", "/v1/principals/{principal_id}"): _ADMIN,
    ("PATCH", "/v1/principals/{principal_id}"): _ADMIN,
    ("POST", "/v1/api-keys"): _ADMIN,
    ("GET", "/v1/api-keys"): _ADMIN,
    ("GET", "/v1/api-keys/{key_id}"): _ADMIN,
    ("DELETE", "/v1/api-keys/{key_id}"): _ADMIN,
    # register a model: developer; read inventory: every role of the tenant
    ("POST", "/v1/models"): _DEVELOPER,
    ("GET", "/v1/models"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/models/{model_id}"): _EVERY_TENANT_ROLE,
    # descriptive fields: the team (developers)
    ("PATCH", "/v1/models/{model_id}"): _DEVELOPER,
    # risk tier and regulatory scope: validator or approver outside the model's team
    ("POST", "/v1/models/{model_id}/classification"): frozenset({"validator", "approver"}),
    # versions: the model's team (developers)
    ("POST", "/v1/models/{model_id}/versions"): _DEVELOPER,
    ("GET", "/v1/models/{model_id}/versions"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/models/{model_id}/versions/{number}"): _EVERY_TENANT_ROLE,
    ("PATCH", "/v1/models/{model_id}/versions/{number}"): _DEVELOPER,
    # artifacts: the model's team (developers) registers and completes; every role reads
    ("POST", "/v1/models/{model_id}/versions/{number}/artifacts"): _DEVELOPER,
    ("GET", "/v1/models/{model_id}/versions/{number}/artifacts"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/models/{model_id}/versions/{number}/artifacts/{name}"): _EVERY_TENANT_ROLE,
    ("POST", "/v1/models/{model_id}/versions/{number}/artifacts/{name}/complete"): _DEVELOPER,
    # policy: admin sets it; every role reads it (and its versions)
    ("GET", "/v1/policy"): _EVERY_TENANT_ROLE,
    ("PUT", "/v1/policy"): _ADMIN,
    ("GET", "/v1/policy/versions"): _EVERY_TENANT_ROLE,
    # approvals: the model's team submits; the stage's role decides; every role reads
    ("POST", "/v1/models/{model_id}/versions/{number}/approval-requests"): _DEVELOPER,
    ("GET", "/v1/approval-requests"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/approval-requests/{request_id}"): _EVERY_TENANT_ROLE,
    ("POST", "/v1/approval-requests/{request_id}/decisions"): _DECIDERS,
    ("POST", "/v1/approval-requests/{request_id}/cancel"): _DEVELOPER,  # its submitter
    ("POST", "/v1/approval-requests/{request_id}/evidence"): _DECIDERS,
    ("POST", "/v1/approval-requests/{request_id}/evidence/{name}/complete"): _DECIDERS,
    ("POST", "/v1/approval-requests/{request_id}/comments"): _DECIDERS,
    ("POST", "/v1/models/{model_id}/versions/{number}/reopen"): _DEVELOPER,
    # record and end deployments: the model's team (developers), monitors (the pipelines
    # that report them) and admins, production included (its gate is the approval and the
    # artifact check, whoever records it); every role reads the history
    ("POST", "/v1/models/{model_id}/versions/{number}/deployments"): _DEPLOYERS,
    ("GET", "/v1/models/{model_id}/versions/{number}/deployments"): _EVERY_TENANT_ROLE,
    (
        "GET",
        "/v1/models/{model_id}/versions/{number}/deployments/{deployment_id}",
    ): _EVERY_TENANT_ROLE,
    (
        "DELETE",
        "/v1/models/{model_id}/versions/{number}/deployments/{deployment_id}",
    ): _DEPLOYERS,
    # report metrics: monitors, the model's team (developers) and admins, as deployments;
    # every role reads them
    ("POST", "/v1/models/{model_id}/versions/{number}/metrics"): _REPORTERS,
    ("GET", "/v1/models/{model_id}/versions/{number}/metrics"): _EVERY_TENANT_ROLE,
    # retire: the model's team (developers), or an admin
    ("POST", "/v1/models/{model_id}/versions/{number}/retire"): _RETIRERS,
    # webhooks: admin manages them; auditors read them too (they read everything)
    ("POST", "/v1/webhooks"): _ADMIN,
    ("GET", "/v1/webhooks"): _AUDIT_READERS,
    ("GET", "/v1/webhooks/{webhook_id}"): _AUDIT_READERS,
    ("PATCH", "/v1/webhooks/{webhook_id}"): _ADMIN,
    ("DELETE", "/v1/webhooks/{webhook_id}"): _ADMIN,
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): _ADMIN,
    ("POST", "/v1/webhooks/{webhook_id}/test"): _ADMIN,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): _AUDIT_READERS,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"): _AUDIT_READERS,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): _ADMIN,
    # findings: a validator raises and resolves (outside the team), an approver outside the
    # team accepts the risk; every role reads them
    ("GET", "/v1/findings"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/findings/{finding_id}"): _EVERY_TENANT_ROLE,
    ("POST", "/v1/findings"): frozenset({"validator"}),
    ("POST", "/v1/findings/{finding_id}/accept"): frozenset({"approver"}),
    ("POST", "/v1/findings/{finding_id}/resolve"): frozenset({"validator"}),
    # scans: a validator (or an admin) starts one; every role follows them
    ("POST", "/v1/compliance-scans"): frozenset({"validator", "admin"}),
    ("GET", "/v1/compliance-scans"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/compliance-scans/{scan_id}"): _EVERY_TENANT_ROLE,
    # read audit events: auditor, admin
    ("GET", "/v1/audit-events"): _AUDIT_READERS,
    ("GET", "/v1/audit/verify"): _AUDIT_READERS,
    # reports: every role of the tenant reads them
    ("GET", "/v1/reports/compliance"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/reports/inventory"): _EVERY_TENANT_ROLE,
    # exports of the inventory (and findings): every role of the tenant requests and reads
    # them; the audit trail's and evidence packs' kinds are to be the auditors' and admins'
    ("POST", "/v1/exports"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/exports"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/exports/{export_id}"): _EVERY_TENANT_ROLE,
    ("GET", "/v1/audit/anchors"): _AUDIT_READERS,
}


def app_routes() -> list[Route]:
    """Every (method, path) in the app's own route table, as Chalice dispatches them."""
    from app import app

    return sorted((method, path) for path, methods in app.routes.items() for method in methods)


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def fill(path: str, values: Mapping[str, str]) -> str:
    """The path template with each `{param}` replaced by its value."""
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def route_id(route: Route) -> str:
    return f"{route[0]} {route[1]}"


def key_of(tenant: Tenant, role: str) -> str | None:
    """The bearer key a role calls with: the platform's, a tenant principal's, or none."""
    if role == PLATFORM:
        return PLATFORM_KEY
    if role == ANONYMOUS:
        return None
    return tenant.keys[role]


def items_of(api: Api, path: str, key: str | None) -> list[dict[str, Any]]:
    """Every item of a paginated list, following next_cursor to the end."""
    found: list[dict[str, Any]] = []
    joiner = "&" if "?" in path else "?"
    cursor: str | None = None
    for _ in range(50):
        page = api.get(f"{path}{joiner}limit=100" + (f"&cursor={cursor}" if cursor else ""), key)
        assert page.status == 200, (path, page.status, page.json)
        found.extend(page.json["items"])
        cursor = page.json["next_cursor"]
        if not cursor:
            return found
    raise AssertionError(f"{path} did not end after 50 pages")


def needs_if_match(method: str) -> bool:
    """Updates (PATCH, and PUT's whole replacement) send the ETag last read."""
    return method in ("PATCH", "PUT")


def current_etag(api: Api, tenant: Tenant, template: str, path: str) -> str:
    """The ETag a reader of `path` (an instance of `template`) sees now, for If-Match; for
    an action on an object (`…/{model_id}/classification`), the object's."""
    parent, _, last = template.rpartition("/")
    if ("GET", template) not in PERMISSIONS and parent.endswith("}") and "{" not in last:
        return current_etag(api, tenant, parent, path.rpartition("/")[0])
    readers = PERMISSIONS.get(("GET", template), frozenset())
    role = next((r for r in (PLATFORM, "admin", "auditor", *TENANT_ROLES) if r in readers), None)
    if role is None:
        return '"1"'
    answer: Answer = api.get(path, key_of(tenant, role))
    return answer.headers.get("etag", '"1"')


@contextmanager
def running_api(moto_config: Any = None) -> Iterator[Api]:
    """The app over its own moto (`moto_config` as `mock_aws` takes it), for a
    module-scoped fixture.

    conftest's `aws` fixture is function-scoped; these files call hundreds of routes
    against one unchanging world, so they pay for tenants once per module (and per
    xdist worker) instead.
    """
    from app import app
    from chalicelib import bootstrap
    from infra.provision import provision

    with pytest.MonkeyPatch.context() as patch, mock_aws(config=moto_config):
        env = provision(boto3.session.Session(), "test", PLATFORM_KEY)
        for name, value in env.items():
            patch.setenv(name, value)
        bootstrap.reset()
        try:
            with Client(app) as client:
                yield Api(client)
        finally:
            bootstrap.reset()
