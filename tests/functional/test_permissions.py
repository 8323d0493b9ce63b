"""Every role against every route: the route-level role gate matches the README's "Who may do what".

The expected table is `route_fixtures.PERMISSIONS`, written by hand from the design; the
app's routes come from Chalice's own route table, so a new route fails here until someone
decides who may call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.policy import DEFAULT_BODY
from tests.conftest import Answer, Api, Tenant, make_tenant, new_model
from tests.functional.route_fixtures import (
    ALL_ROLES,
    ANONYMOUS,
    PERMISSIONS,
    PLATFORM,
    Route,
    app_routes,
    current_etag,
    fill,
    key_of,
    route_id,
    running_api,
)

STAGING = {"environment": "staging", "target": "k8s://staging/probe"}
OBSERVED = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
EXPORT = {"kind": "inventory", "format": "csv"}
WEBHOOK = {"url": "https://hooks.acme.example/custos", "events": ["approval.*"]}
ARTIFACT = {
    "name": "model.onnx",
    "kind": "model",
    "media_type": "application/octet-stream",
    "size": 5,
    "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
}


@dataclass
class World:
    api: Api
    tenant: Tenant
    ids: dict[str, str]  # a real id of the tenant for every path parameter


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    from chalicelib.store import outbound

    # Receivers' names resolve to a public address (nothing is sent: no worker runs).
    with running_api() as api, outbound.resolving_with(lambda host, port: ["93.184.215.14"]):
        # Validators and approvers hold keys of their own: only those may classify.
        tenant = make_tenant(api, "Acme", own_keys_for=("validator", "approver"))
        model = new_model(api, tenant)  # owned by the developer: the team's finer rules pass
        version = api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
        assert version.status == 201, version.json
        # Principal and key routes act on a bystander, so no probe locks out a role's key.
        target = api.post(
            "/v1/principals", tenant.keys["admin"], {"name": "Acme target", "roles": ["monitor"]}
        )
        assert target.status == 201, target.json
        key = api.post(
            "/v1/api-keys",
            tenant.keys["admin"],
            {"principal_id": target.json["id"], "name": "target"},
        )
        assert key.status == 201, key.json
        # A request to decide: another model's version, complete, submitted.
        judged = new_model(api, tenant, name="Judged")
        card = {"intended_use": "Probe", "metrics": "Probe"}
        path = f"/v1/models/{judged['id']}/versions"
        assert api.post(path, tenant.keys["developer"], {"model_card": card}).status == 201
        request = api.post(f"{path}/1/approval-requests", tenant.keys["developer"], {})
        assert request.status == 201, request.json
        artifact = api.post(
            f"/v1/models/{model['id']}/versions/{version.json['number']}/artifacts",
            tenant.keys["developer"],
            ARTIFACT,
        )
        assert artifact.status == 201, artifact.json
        deployment = api.post(
            f"/v1/models/{model['id']}/versions/{version.json['number']}/deployments",
            tenant.keys["developer"],
            STAGING,
        )
        assert deployment.status == 201, deployment.json
        hook = api.post("/v1/webhooks", tenant.keys["admin"], WEBHOOK)
        assert hook.status == 201, hook.json
        finding = api.post("/v1/findings", tenant.keys["validator"], finding_body(model["id"]))
        assert finding.status == 201, finding.json
        scan = api.post("/v1/compliance-scans", tenant.keys["validator"], {})
        assert scan.status == 202, scan.json
        export = api.post("/v1/exports", tenant.keys["auditor"], EXPORT)
        assert export.status == 202, export.json
        yield World(
            api,
            tenant,
            {
                "tenant_id": tenant.id,
                "principal_id": target.json["id"],
                "key_id": key.json["id"],
                "model_id": model["id"],
                "number": str(version.json["number"]),
                "name": artifact.json["name"],
                "request_id": request.json["id"],
                "deployment_id": deployment.json["id"],
                "webhook_id": hook.json["id"],
                # None made (no fan-out runs here): the gate is what is checked
                "delivery_id": "dlv_" + "0" * 26,
                "finding_id": finding.json["id"],
                "scan_id": scan.json["id"],
                "export_id": export.json["id"],
            },
        )


def finding_body(model_id: str) -> dict[str, Any]:
    return {"model_id": model_id, "severity": "low", "title": "Probe finding"}


def body_for(route: Route, role: str, world: World) -> dict[str, Any] | None:
    """A body the route accepts, so an allowed role fails, if at all, for a reason past the
    gate."""
    probe: dict[Route, dict[str, Any]] = {
        ("POST", "/v1/tenants"): {
            "name": "Probe Inc",
            "admin_name": "Probe admin",
            "admin_email": "p@example.com",
        },
        ("PATCH", "/v1/tenants/{tenant_id}"): {"name": "Acme"},
        ("POST", "/v1/principals"): {"name": "Probe", "roles": ["monitor"]},
        ("PATCH", "/v1/principals/{principal_id}"): {"name": "Acme target renamed"},
        ("POST", "/v1/api-keys"): {"principal_id": world.ids["principal_id"], "name": "probe"},
        ("POST", "/v1/models"): {"name": "Probe", "purpose": "A probe", "risk_tier": 3},
        ("PATCH", "/v1/models/{model_id}"): {"purpose": f"Edited by the {role}"},
        ("POST", "/v1/models/{model_id}/classification"): {
            "risk_tier": 1,
            "regulatory_scope": [],
        },
        ("POST", "/v1/models/{model_id}/versions"): {},
        ("PATCH", "/v1/models/{model_id}/versions/{number}"): {"description": f"By {role}"},
        ("POST", "/v1/models/{model_id}/versions/{number}/artifacts"): ARTIFACT,
        ("PUT", "/v1/policy"): DEFAULT_BODY,
        ("POST", "/v1/models/{model_id}/versions/{number}/approval-requests"): {},
        ("POST", "/v1/approval-requests/{request_id}/decisions"): {"outcome": "approve"},
        ("POST", "/v1/approval-requests/{request_id}/evidence"): ARTIFACT,
        ("POST", "/v1/approval-requests/{request_id}/comments"): {"text": f"By {role}"},
        ("POST", "/v1/models/{model_id}/versions/{number}/deployments"): STAGING,
        ("POST", "/v1/models/{model_id}/versions/{number}/metrics"): {
            "points": [{"name": f"probe.{role}", "value": 1, "observed_at": OBSERVED}]
        },
        ("POST", "/v1/webhooks"): WEBHOOK,
        ("POST", "/v1/exports"): EXPORT,
        ("PATCH", "/v1/webhooks/{webhook_id}"): {"description": f"By {role}"},
        ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): {"overlap_seconds": 60},
        ("POST", "/v1/findings"): finding_body(world.ids["model_id"]),
        ("POST", "/v1/findings/{finding_id}/accept"): {
            "reason": f"Accepted by the {role}",
            "expires_at": (datetime.now(UTC) + timedelta(days=100)).isoformat(),
        },
        ("POST", "/v1/findings/{finding_id}/resolve"): {"note": f"Resolved by the {role}"},
    }
    return probe.get(route)


def call(world: World, route: Route, role: str) -> Answer:
    method, template = route
    path = fill(template, world.ids)
    headers: dict[str, str] = {}
    if (method, template) in UPDATES:
        headers["If-Match"] = current_etag(world.api, world.tenant, template, path)
    return world.api.call(
        method, path, key_of(world.tenant, role), body_for(route, role, world), headers=headers
    )


def _updates() -> set[Route]:
    """The routes that take If-Match, as the app declares them."""
    import app  # noqa: F401  (registers the routes)
    from chalicelib.api.http import REGISTRY

    return {(op.method, op.path) for op in REGISTRY if op.if_match}


UPDATES = _updates()
CASES = [
    pytest.param(route, role, id=f"{route_id(route)} as {role}")
    for route in sorted(PERMISSIONS)
    for role in ALL_ROLES
]


@pytest.mark.parametrize(("route", "role"), CASES)
def test_a_role_passes_the_gate_exactly_where_the_design_allows_it(
    world: World, route: Route, role: str
) -> None:
    # WHEN the role calls the route with a well-formed request about its own tenant
    answer = call(world, route, role)
    # THEN the gate lets it through when the design allows it, and refuses it otherwise
    seen = f"{route_id(route)} as {role}: {answer.status} {answer.json}"
    if role in PERMISSIONS[route]:
        assert answer.status not in (401, 403), f"allowed by the table but refused: {seen}"
        assert answer.status < 500, f"allowed role got a server error: {seen}"
    elif role == ANONYMOUS:
        assert answer.status == 401, f"no key must be a 401: {seen}"
    else:
        assert answer.status == 403, f"disallowed by the permission table: {seen}"
        assert answer.headers["content-type"] == "application/problem+json", seen


def test_the_permission_table_names_every_route_of_the_app_and_no_other() -> None:
    routes = set(app_routes())
    missing = sorted(route_id(r) for r in routes - set(PERMISSIONS))
    stale = sorted(route_id(r) for r in set(PERMISSIONS) - routes)
    assert not missing, (
        f"routes with no expected permissions: {missing}; add them to PERMISSIONS in "
        "tests/functional/route_fixtures.py from the README's permission table"
    )
    assert not stale, f"PERMISSIONS lists routes the app does not have: {stale}"


def test_the_table_gives_every_role_something_and_keeps_the_platform_out_of_tenants() -> None:
    # A guard on the hand-written table itself: the design's two hard lines.
    for role in ALL_ROLES:
        assert any(role in roles for roles in PERMISSIONS.values()), role
    inside = [
        r
        for r, roles in PERMISSIONS.items()
        if PLATFORM in roles
        and not r[1].startswith(("/v1/tenants", "/v1/me", "/v1/health", "/v1/openapi"))
    ]
    assert not inside, f"the platform manages tenants and nothing in them: {inside}"
