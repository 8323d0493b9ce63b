"""Tenant isolation, tested rather than assumed (docs/architecture.md, section 4).

Tenant A's keys are pointed at tenant B's objects through every route the app has, every
id position in its path, every id a body or filter can carry and every list and cursor.
Another tenant's object must be answered exactly as a missing one (404), B's data must
never show, and B's objects must be unchanged afterwards. The routes come from Chalice's
own route table: a new route, or a new path parameter, fails
`test_every_route_of_the_app_is_covered_by_an_isolation_check` until it is covered here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.domain.policy import DEFAULT_BODY
from chalicelib.services.anchors import anchor_tenant
from tests.conftest import PLATFORM_KEY, Answer, Api, Tenant, make_tenant, new_model
from tests.functional.route_fixtures import (
    PERMISSIONS,
    TENANT_ROLES,
    Route,
    app_routes,
    current_etag,
    fill,
    items_of,
    needs_if_match,
    path_params,
    route_id,
    running_api,
)

CARD = {"intended_use": "Isolation", "metrics": "AUC 0.5"}
# A time a reported metric point may have (recent: within the retention, not ahead).
OBSERVED = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

# How each path parameter names tenant B's object. The value is the set of path parameters
# that take B's value in that probe (the rest keep A's own): a version number names B's
# version only under B's model. A new path parameter must be added here, and to `Side.ids`.
PARAM_IDS: dict[str, tuple[str, ...]] = {
    "tenant_id": ("tenant_id",),
    "principal_id": ("principal_id",),
    "key_id": ("key_id",),
    "model_id": ("model_id",),
    "number": ("model_id", "number"),
    "name": ("model_id", "number", "name"),
    "request_id": ("request_id",),
    "deployment_id": ("model_id", "number", "deployment_id"),
    "webhook_id": ("webhook_id",),
    "delivery_id": ("webhook_id", "delivery_id"),
    "finding_id": ("finding_id",),
    "scan_id": ("scan_id",),
    "export_id": ("export_id",),
}

# A valid body for every route that takes one, so a foreign id is the only reason to fail.
BODIES: dict[Route, dict[str, Any] | None] = {
    ("POST", "/v1/tenants"): {
        "name": "Intruder Inc",
        "admin_name": "Intruder",
        "admin_email": "i@example.com",
    },
    ("PATCH", "/v1/tenants/{tenant_id}"): {"name": "Hijacked by A"},
    ("POST", "/v1/tenants/{tenant_id}/admin-keys"): {
        "name": "break-glass",
        "reason": "tenant A asks for tenant B's admin key",
    },
    ("PATCH", "/v1/principals/{principal_id}"): {"name": "Hijacked by A"},
    ("DELETE", "/v1/api-keys/{key_id}"): None,
    ("POST", "/v1/me/api-keys/{key_id}/rotate"): None,
    ("PATCH", "/v1/models/{model_id}"): {"purpose": "Hijacked by A"},
    ("POST", "/v1/models/{model_id}/classification"): {"risk_tier": 3, "regulatory_scope": []},
    ("POST", "/v1/models/{model_id}/versions"): {"description": "Planted by A"},
    ("PATCH", "/v1/models/{model_id}/versions/{number}"): {"description": "Hijacked by A"},
    ("POST", "/v1/models/{model_id}/versions/{number}/artifacts"): {
        "name": "planted-by-a.bin",
        "kind": "other",
        "media_type": "application/octet-stream",
        "size": 5,
        "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    },
    ("POST", "/v1/models/{model_id}/versions/{number}/artifacts/{name}/complete"): None,
    ("POST", "/v1/models/{model_id}/versions/{number}/approval-requests"): {"kind": "approval"},
    ("POST", "/v1/approval-requests/{request_id}/decisions"): {"outcome": "approve"},
    ("POST", "/v1/approval-requests/{request_id}/cancel"): None,
    ("POST", "/v1/approval-requests/{request_id}/evidence"): {
        "name": "report.pdf",
        "kind": "documentation",
        "media_type": "application/pdf",
        "size": 5,
        "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    },
    ("POST", "/v1/approval-requests/{request_id}/evidence/{name}/complete"): None,
    ("POST", "/v1/approval-requests/{request_id}/comments"): {"text": "probe"},
    ("POST", "/v1/models/{model_id}/versions/{number}/reopen"): None,
    ("POST", "/v1/models/{model_id}/versions/{number}/deployments"): {
        "environment": "staging",
        "target": "planted-by-a",
    },
    ("DELETE", "/v1/models/{model_id}/versions/{number}/deployments/{deployment_id}"): None,
    ("POST", "/v1/models/{model_id}/versions/{number}/retire"): None,
    ("POST", "/v1/models/{model_id}/versions/{number}/metrics"): {
        "points": [{"name": "planted.by.a", "value": 1, "observed_at": OBSERVED}]
    },
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"url": "https://hooks.acme.example/hijacked"},
    ("DELETE", "/v1/webhooks/{webhook_id}"): None,
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): {"overlap_seconds": 0},
    ("POST", "/v1/webhooks/{webhook_id}/test"): None,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): None,
    ("POST", "/v1/findings/{finding_id}/accept"): {
        "reason": "A accepts B's risk",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    },
    ("POST", "/v1/findings/{finding_id}/resolve"): {"note": "A resolves B's finding"},
}

# The role A calls with: the first one PERMISSIONS allows, so a 403 never masks the check.
ROLE_PREFERENCE = ("developer", "admin", "auditor", "validator", "approver", "monitor")


@dataclass
class Side:
    """One tenant and one object of each kind, named by the path parameter that holds it."""

    tenant: Tenant
    ids: dict[str, str]
    victim_key: str  # the secret of the key `ids["key_id"]` names
    marks: set[str] = field(default_factory=set)  # ids and names only this tenant's data has


@dataclass
class World:
    api: Api
    a: Side
    b: Side


def register_artifact(api: Api, key: str, path: str, name: str) -> None:
    """An artifact of `name`, uploaded through its presigned URL and verified."""
    content = f"{name} bytes".encode()
    body = {
        "name": name,
        "kind": "model",
        "media_type": "application/octet-stream",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    registered = api.post(f"{path}/artifacts", key, body)
    assert registered.status == 201, registered.json
    upload = registered.json["upload"]
    assert requests.put(upload["url"], data=content, headers=upload["headers"]).ok
    completed = api.post(f"{path}/artifacts/{name}/complete", key)
    assert completed.status == 200, completed.json


def build_side(api: Api, name: str, models: list[str], versions: int) -> Side:
    tenant = make_tenant(api, name)
    admin, developer = tenant.keys["admin"], tenant.keys["developer"]
    made = [new_model(api, tenant, name=f"{name} {m}") for m in models]
    version_ids = []
    for _ in range(versions):
        version = api.post(
            f"/v1/models/{made[0]['id']}/versions",
            developer,
            {"description": f"{name} version", "model_card": CARD},
        )
        assert version.status == 201, version.json
        version_ids.append(version.json["id"])
    # B has two artifacts on its last version (a limit=1 page has a next cursor), A one.
    version_path = f"/v1/models/{made[0]['id']}/versions/{versions}"
    artifact_names = [f"{name.lower()}-{n}.bin" for n in range(versions)]
    for artifact in artifact_names:
        register_artifact(api, developer, version_path, artifact)
    # Every version submitted for approval: B has two requests (a limit=1 page has a next
    # cursor), A one.
    requests_made = []
    for number in range(1, versions + 1):
        path = f"/v1/models/{made[0]['id']}/versions/{number}/approval-requests"
        submitted = api.post(path, developer, {"kind": "approval"})
        assert submitted.status == 201, submitted.json
        requests_made.append(submitted.json["id"])
    # The auditor holds two keys, so a limit=1 page of its own keys has a next cursor.
    second = {"principal_id": tenant.ids["auditor"], "name": "second"}
    assert api.post("/v1/api-keys", admin, second).status == 201
    # Staging deployments of the last version, one per version (B two, A one).
    deployments = []
    for n in range(versions):
        body = {"environment": "staging", "target": f"{name.lower()}-staging-{n}"}
        deployed = api.post(f"{version_path}/deployments", developer, body)
        assert deployed.status == 201, deployed.json
        deployments.append(deployed.json["id"])
    # Metric points of the last version, reported by its monitor (B two, A one).
    metric = f"{name.lower()}.auc"
    points = [
        {"name": metric, "value": 0.5 + n / 10, "observed_at": OBSERVED, "segment": f"s{n}"}
        for n in range(versions)
    ]
    reported = api.post(f"{version_path}/metrics", tenant.keys["monitor"], {"points": points})
    assert reported.status == 200, reported.json
    target = api.post("/v1/principals", admin, {"name": f"{name} target", "roles": ["monitor"]})
    assert target.status == 201, target.json
    key = api.post("/v1/api-keys", admin, {"principal_id": target.json["id"], "name": "target"})
    assert key.status == 201, key.json
    # A policy of its own (versions 1, the defaults, and 2), naming its target as a contact.
    policy = {**DEFAULT_BODY, "escalation_contact_ids": [target.json["id"]]}
    set_policy = api.call("PUT", "/v1/policy", admin, policy, headers={"If-Match": '"1"'})
    assert set_policy.status == 200, set_policy.json
    # Webhooks (B two, A one), and deliveries of test events to the last (B two, A one),
    # made by the fan-out consumer; nothing is sent (no delivery worker runs here).
    webhook_ids = []
    for n in range(versions):
        hook = {"url": f"https://hooks.{name.lower()}.example/{n}", "events": ["webhook.test"]}
        made_hook = api.post("/v1/webhooks", admin, hook)
        assert made_hook.status == 201, made_hook.json
        webhook_ids.append(made_hook.json["id"])
    delivery_ids = []
    for _ in range(versions):
        queued = api.post(f"/v1/webhooks/{webhook_ids[-1]}/test", admin)
        assert queued.status == 202, queued.json
        delivery_ids.append(queued.json["delivery_id"])
    # Exports (B two, A one), requested only: no exporter runs here.
    export_ids = []
    for _ in range(versions):
        export = api.post("/v1/exports", admin, {"kind": "inventory", "format": "csv"})
        assert export.status == 202, export.json
        export_ids.append(export.json["id"])
    # Anchors of its chain (B two, A one); a read of the trail moves the head between them.
    for _ in range(versions):
        items_of(api, "/v1/audit-events", tenant.keys["auditor"])
        assert anchor_tenant(Actor.of_system(SystemPart.SCHEDULER, "world", tenant.id))
    fan_out(api)
    # Findings a validator raised on the first model (B two, A one), and scans asked for.
    finding_ids, scan_ids = [], []
    for n in range(versions):
        body = {"model_id": made[0]["id"], "severity": "low", "title": f"{name} finding {n}"}
        raised = api.post("/v1/findings", tenant.keys["validator"], body)
        assert raised.status == 201, raised.json
        finding_ids.append(raised.json["id"])
        scan = api.post("/v1/compliance-scans", tenant.keys["validator"], {})
        assert scan.status == 202, scan.json
        scan_ids.append(scan.json["id"])
    ids = {
        "tenant_id": tenant.id,
        "principal_id": target.json["id"],
        "key_id": key.json["id"],
        "model_id": made[0]["id"],
        "number": str(versions),
        "name": artifact_names[-1],
        "developer_id": tenant.ids["developer"],
        "request_id": requests_made[-1],
        "deployment_id": deployments[-1],
        "webhook_id": webhook_ids[-1],
        "delivery_id": delivery_ids[-1],
        "finding_id": finding_ids[-1],
        "scan_id": scan_ids[-1],
        "export_id": export_ids[-1],
    }
    marks = {name, tenant.id, *tenant.ids.values(), *ids.values(), *version_ids}
    marks |= set(webhook_ids) | set(delivery_ids) | set(finding_ids) | set(scan_ids)
    marks |= set(export_ids)
    marks |= set(artifact_names) | set(requests_made) | set(deployments) | {metric}
    marks |= {m["id"] for m in made} | {k["id"] for k in items_of(api, "/v1/api-keys", admin)}
    marks.discard(str(versions))
    return Side(tenant, ids, key.json["secret"], marks)


def fan_out(api: Api) -> None:
    """Relay the outbox and run the webhook fan-out until both are idle (no other consumer:
    the world stays as built)."""
    import boto3

    from app import app
    from infra.dispatch import Dispatcher

    env = {k: v for k, v in os.environ.items() if k.startswith("CUSTOS_")}
    dispatcher = Dispatcher(app, boto3.session.Session(), env)
    pumps = [q for q in dispatcher.queues if q.function == "fan_out_webhooks"]
    for _ in range(50):
        moved = sum(s.pump_once() for s in dispatcher.streams)
        moved += sum(q.pump_once() for q in pumps)
        if not moved:
            return
    raise AssertionError("the fan-out kept finding work")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    from chalicelib.store import outbound

    # Receivers' names resolve to a public address (nothing is ever sent to it).
    with running_api() as api, outbound.resolving_with(lambda host, port: ["93.184.215.14"]):
        a = build_side(api, "Acme", ["scorecard"], versions=1)
        # B has more of everything, so a limit=1 page of each list has a next cursor.
        b = build_side(api, "Globex", ["secret scorecard", "hidden pricing"], versions=2)
        missing = set(PARAM_IDS) - set(a.ids)
        assert not missing, f"build_side makes no object for {missing}"
        yield World(api, a, b)


# --- helpers -----------------------------------------------------------------------------


def key(side: Side, role: str) -> str:
    return side.tenant.keys[role]


def allowed_tenant_roles(route: Route) -> list[str]:
    if route not in PERMISSIONS:
        pytest.fail(f"{route_id(route)} is not in route_fixtures.PERMISSIONS; add it first")
    return [r for r in ROLE_PREFERENCE if r in PERMISSIONS[route]]


def send(world: World, route: Route, path: str, role: str) -> Answer:
    method = route[0]
    if method == "GET":
        return world.api.get(path, key(world.a, role))
    if route not in BODIES:
        pytest.fail(f"{route_id(route)}: add a valid body to BODIES in {__name__}")
    return world.api.call(
        method, path, key(world.a, role), BODIES[route], headers={"If-Match": '"1"'}
    )


def assert_no_b_data(world: World, answer: Answer, sent: str = "") -> None:
    """Nothing of B's in the answer, except ids A itself sent (a 404 may echo them)."""
    text = answer.raw.decode()
    leaked = sorted(m for m in world.b.marks if m in text and m not in sent)
    assert not leaked, f"tenant B's data in an answer to tenant A: {leaked} in {text[:800]}"


def missing_like(value: str) -> str:
    """An id shaped like `value` that names nothing."""
    if re.fullmatch(r"[a-z]{3}_[0-9A-Z]{26}", value):
        return value[:4] + "0" * 26
    return "999999" if value.isdigit() else value + "0"


def b_state(world: World) -> dict[str, Any]:
    """Everything of B's, read with B's own keys (and the platform's, for the tenant)."""
    api, b = world.api, world.b
    admin, developer = key(b, "admin"), key(b, "developer")
    models = items_of(api, "/v1/models", developer)
    versions = {m["id"]: items_of(api, f"/v1/models/{m['id']}/versions", developer) for m in models}
    return {
        "tenant": api.get(f"/v1/tenants/{b.tenant.id}", PLATFORM_KEY).json,
        "principals": items_of(api, "/v1/principals", admin),
        "api_keys": items_of(api, "/v1/api-keys", admin),
        # Reading the trail appends audit.read (reads are audited): the rest must not move.
        "audit": [
            e
            for e in items_of(api, "/v1/audit-events", key(b, "auditor"))
            if e["action"] != "audit.read"
        ],
        "anchors": items_of(api, "/v1/audit/anchors", key(b, "auditor")),
        "models": models,
        "versions": versions,
        "artifacts": {
            f"{m}/{v['number']}": items_of(
                api, f"/v1/models/{m}/versions/{v['number']}/artifacts", developer
            )
            for m, listed in versions.items()
            for v in listed
        },
        "deployments": {
            f"{m}/{v['number']}": items_of(
                api, f"/v1/models/{m}/versions/{v['number']}/deployments", developer
            )
            for m, listed in versions.items()
            for v in listed
        },
        "metrics": {
            f"{m}/{v['number']}": items_of(
                api, f"/v1/models/{m}/versions/{v['number']}/metrics", developer
            )
            for m, listed in versions.items()
            for v in listed
        },
        "policy": items_of(api, "/v1/policy/versions", key(b, "auditor")),
        "webhooks": items_of(api, "/v1/webhooks", admin),
        "deliveries": {
            h["id"]: items_of(api, f"/v1/webhooks/{h['id']}/deliveries", admin)
            for h in items_of(api, "/v1/webhooks", admin)
        },
        "requests": items_of(api, "/v1/approval-requests", key(b, "auditor")),
        "exports": items_of(api, "/v1/exports", key(b, "auditor")),
        "victim_key": api.get("/v1/me", b.victim_key).status,
    }


# --- every id position of every route --------------------------------------------------

ID_PROBES = [
    pytest.param(route, param, id=f"{route_id(route)} with B's {param}")
    for route in app_routes()
    for param in path_params(route[1])
]


@pytest.mark.parametrize(("route", "param"), ID_PROBES)
def test_tenant_a_reaches_no_object_of_tenant_b_through_any_id_in_a_path(
    world: World, route: Route, param: str
) -> None:
    method, template = route
    unknown = [p for p in path_params(template) if p not in PARAM_IDS]
    if unknown:
        pytest.fail(
            f"{route_id(route)}: path parameter(s) {unknown} unknown to "
            f"{__name__}.PARAM_IDS; add how to name tenant B's object for each"
        )
    own = {p: world.a.ids[p] for p in path_params(template)}
    foreign = own | {p: world.b.ids[p] for p in PARAM_IDS[param] if p in own}
    path = fill(template, foreign)
    roles = allowed_tenant_roles(route)
    if not roles:
        # The platform sees every tenant by design (it manages them), so a platform-only
        # route's isolation is that no tenant key gets in at all.
        for role in TENANT_ROLES:
            answer = send(world, route, path, role)
            assert answer.status == 403, (role, answer.status, answer.json)
            assert_no_b_data(world, answer, sent=path)
        return
    # GIVEN B's state, and A's answer for an id of the same shape that names nothing
    before = b_state(world) if method != "GET" else None
    missing = send(
        world, route, fill(template, own | {param: missing_like(foreign[param])}), roles[0]
    )
    # WHEN A asks with a role allowed on the route, naming B's object
    answer = send(world, route, path, roles[0])
    # THEN it is a 404, exactly as the missing one, carrying nothing of B's
    assert answer.status == 404, f"{method} {path} as A's {roles[0]}: {answer.status} {answer.json}"
    assert missing.status == 404, (missing.status, missing.json)
    assert (answer.json["type"], answer.json["title"]) == (
        missing.json["type"],
        missing.json["title"],
    )
    assert_no_b_data(world, answer, sent=path)
    # AND B's objects are as they were
    if before is not None:
        assert b_state(world) == before


# --- lists and cursors -------------------------------------------------------------------


@dataclass(frozen=True)
class ListCase:
    role: str
    # Query strings naming B's objects (formatted with B's ids): they must list nothing.
    foreign_filters: tuple[str, ...] = ()


LISTS: dict[Route, ListCase] = {
    ("GET", "/v1/models"): ListCase("auditor", ("owner={developer_id}",)),
    ("GET", "/v1/principals"): ListCase("admin"),
    ("GET", "/v1/api-keys"): ListCase("admin", ("principal_id={principal_id}",)),
    ("GET", "/v1/me/api-keys"): ListCase("auditor"),
    ("GET", "/v1/audit-events"): ListCase("auditor"),
    ("GET", "/v1/audit/anchors"): ListCase("auditor"),
    ("GET", "/v1/models/{model_id}/versions"): ListCase("auditor"),
    ("GET", "/v1/models/{model_id}/versions/{number}/artifacts"): ListCase("auditor"),
    ("GET", "/v1/policy/versions"): ListCase("auditor"),
    ("GET", "/v1/approval-requests"): ListCase("auditor", ("model_id={model_id}",)),
    ("GET", "/v1/models/{model_id}/versions/{number}/deployments"): ListCase("auditor"),
    ("GET", "/v1/models/{model_id}/versions/{number}/metrics"): ListCase("auditor"),
    ("GET", "/v1/webhooks"): ListCase("auditor"),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): ListCase("auditor"),
    ("GET", "/v1/findings"): ListCase("auditor", ("model_id={model_id}",)),
    ("GET", "/v1/compliance-scans"): ListCase("auditor"),
    ("GET", "/v1/exports"): ListCase("auditor"),
    ("GET", "/v1/reports/inventory"): ListCase("auditor"),
}


@pytest.mark.parametrize("route", sorted(LISTS), ids=route_id)
def test_a_list_shows_tenant_a_its_own_objects_and_none_of_tenant_bs(
    world: World, route: Route
) -> None:
    case = LISTS[route]
    path = fill(route[1], world.a.ids)
    # WHEN A pages through the whole list
    items = items_of(world.api, path, key(world.a, case.role))
    text = json.dumps(items)
    # THEN its own objects are there (the check is not vacuous) and none of B's
    assert items and any(m in text for m in world.a.marks), f"A's list is empty: {path}"
    leaked = sorted(m for m in world.b.marks if m in text)
    assert not leaked, f"{path} shows tenant A tenant B's data: {leaked}"
    for template in case.foreign_filters:
        query = template.format(**world.b.ids)
        joiner = "&" if "?" in path else "?"
        filtered = world.api.get(f"{path}{joiner}{query}", key(world.a, case.role))
        assert filtered.status == 200, filtered.json
        assert filtered.json["items"] == [], f"{path}?{query} lists B's objects to A"


@pytest.mark.parametrize("route", sorted(LISTS), ids=route_id)
def test_a_cursor_minted_for_tenant_b_is_a_400_for_tenant_a(world: World, route: Route) -> None:
    case = LISTS[route]
    # GIVEN a next cursor from B's first page of the same list
    b_page = world.api.get(f"{fill(route[1], world.b.ids)}?limit=1", key(world.b, case.role))
    cursor = b_page.json["next_cursor"]
    assert cursor, f"B needs two items in {route_id(route)} for this test"
    # WHEN A presents it
    answer = world.api.get(
        f"{fill(route[1], world.a.ids)}?limit=1&cursor={cursor}", key(world.a, case.role)
    )
    # THEN it is a 400, not B's next page
    assert answer.status == 400, (answer.status, answer.json)
    assert answer.json["type"].endswith("/invalid-cursor"), answer.json
    assert_no_b_data(world, answer)


# --- routes with no id in the path -------------------------------------------------------


def test_public_routes_carry_no_tenant_data(world: World) -> None:
    for route in routes_covered_by("test_public_routes_carry_no_tenant_data"):
        answer = world.api.get(route[1])
        assert answer.status == 200, (route, answer.status)
        assert_no_b_data(world, answer)


def test_platform_only_routes_refuse_every_tenant_role(world: World) -> None:
    for route in routes_covered_by("test_platform_only_routes_refuse_every_tenant_role"):
        assert not allowed_tenant_roles(route), f"{route_id(route)} is open to tenant roles"
        for role in TENANT_ROLES:
            answer = send(world, route, route[1], role)
            assert answer.status == 403, (route, role, answer.status, answer.json)
            assert_no_b_data(world, answer)


def test_me_names_the_callers_own_tenant(world: World) -> None:
    answer = world.api.get("/v1/me", key(world.a, "admin"))
    assert answer.status == 200
    assert answer.json["tenant_id"] == world.a.tenant.id
    assert_no_b_data(world, answer)


def test_a_principal_created_by_tenant_a_lives_only_in_tenant_a(world: World) -> None:
    before = b_state(world)
    created = world.api.post(
        "/v1/principals", key(world.a, "admin"), {"name": "Acme newcomer", "roles": ["auditor"]}
    )
    assert created.status == 201, created.json
    assert_no_b_data(world, created)
    a_ids = [p["id"] for p in items_of(world.api, "/v1/principals", key(world.a, "admin"))]
    assert created.json["id"] in a_ids
    assert b_state(world) == before


def test_a_webhook_created_by_tenant_a_lives_only_in_tenant_a(world: World) -> None:
    body = {"url": "https://hooks.acme.example/new", "events": ["*"]}
    made = world.api.post("/v1/webhooks", key(world.a, "admin"), body)
    assert made.status == 201, made.json
    assert world.api.get(f"/v1/webhooks/{made.json['id']}", key(world.b, "admin")).status == 404
    b_hooks = items_of(world.api, "/v1/webhooks", key(world.b, "admin"))
    assert made.json["id"] not in {h["id"] for h in b_hooks}
    assert_no_b_data(world, made)
    deleted = world.api.call("DELETE", f"/v1/webhooks/{made.json['id']}", key(world.a, "admin"))
    assert deleted.status == 204


def test_a_scan_asked_for_by_tenant_a_is_tenant_as_alone(world: World) -> None:
    made = world.api.post("/v1/compliance-scans", key(world.a, "validator"), {})
    assert made.status == 202, made.json
    assert world.api.get(made.headers["location"], key(world.a, "auditor")).status == 200
    assert world.api.get(made.headers["location"], key(world.b, "auditor")).status == 404
    assert_no_b_data(world, made)


def test_the_policy_in_force_is_the_callers_own(world: World) -> None:
    a_policy = world.api.get("/v1/policy", key(world.a, "approver"))
    assert a_policy.status == 200, a_policy.json
    assert a_policy.json["escalation_contact_ids"] == [world.a.ids["principal_id"]]
    assert_no_b_data(world, a_policy)


def test_audit_verification_covers_only_the_callers_own_chain(world: World) -> None:
    a_events = items_of(world.api, "/v1/audit-events", key(world.a, "auditor"))
    b_events = items_of(world.api, "/v1/audit-events", key(world.b, "auditor"))
    assert len(a_events) != len(b_events), "the tenants need chains of different lengths"
    answer = world.api.get("/v1/audit/verify?full=true", key(world.a, "auditor"))
    assert answer.status == 200, answer.json
    assert answer.json["valid"] is True
    # Beyond what A read, only A's own reads of its trail (each is audited)
    read_to = max(e["seq"] for e in a_events)
    reads = world.api.get(f"/v1/audit-events?from_seq={read_to + 1}", key(world.a, "auditor"))
    since = [e for e in reads.json["items"] if e["seq"] <= answer.json["head_seq"]]
    assert len(since) == answer.json["head_seq"] - read_to
    assert {(e["action"], e["actor"]["principal_id"]) for e in since} == {
        ("audit.read", world.a.tenant.ids["auditor"])
    }
    assert_no_b_data(world, answer)


def test_an_export_requested_by_tenant_a_lives_only_in_tenant_a(world: World) -> None:
    before = b_state(world)
    body = {"kind": "inventory", "format": "jsonl"}
    made = world.api.post("/v1/exports", key(world.a, "auditor"), body)
    assert made.status == 202, made.json
    assert_no_b_data(world, made)
    assert world.api.get(f"/v1/exports/{made.json['id']}", key(world.b, "auditor")).status == 404
    a_exports = items_of(world.api, "/v1/exports", key(world.a, "auditor"))
    assert made.json["id"] in {e["id"] for e in a_exports}
    assert b_state(world) == before


def test_the_compliance_report_counts_only_the_callers_own_models(world: World) -> None:
    answer = world.api.get("/v1/reports/compliance", key(world.a, "monitor"))
    assert answer.status == 200, answer.json
    a_models = items_of(world.api, "/v1/models", key(world.a, "auditor"))
    assert answer.json["models"]["total"] == len(a_models) == 1
    assert_no_b_data(world, answer)


# A body or filter naming B's object is answered exactly as one naming nothing.
Build = Callable[[str, Side], dict[str, Any]]
BODY_REFS: list[tuple[Route, str, str, Build]] = [
    (
        ("POST", "/v1/api-keys"),
        "admin",
        "principal_id",
        lambda ref, a: {"principal_id": ref, "name": "stolen"},
    ),
    (
        ("POST", "/v1/models"),
        "developer",
        "principal_id",
        lambda ref, a: {"name": "M", "purpose": "p", "risk_tier": 2, "owner_id": ref},
    ),
    (
        ("POST", "/v1/models"),
        "developer",
        "principal_id",
        lambda ref, a: {
            "name": "M",
            "purpose": "p",
            "risk_tier": 2,
            "developer_ids": [a.ids["developer_id"], ref],
        },
    ),
    (
        ("POST", "/v1/models"),
        "developer",
        "model_id",
        lambda ref, a: {"name": "M", "purpose": "p", "risk_tier": 2, "upstream_model_ids": [ref]},
    ),
    (
        ("PATCH", "/v1/models/{model_id}"),
        "developer",
        "principal_id",
        lambda ref, a: {"owner_id": ref},
    ),
    (
        ("PATCH", "/v1/models/{model_id}"),
        "developer",
        "principal_id",
        lambda ref, a: {"developer_ids": [a.ids["developer_id"], ref]},
    ),
    (
        ("PATCH", "/v1/models/{model_id}"),
        "developer",
        "model_id",
        lambda ref, a: {"upstream_model_ids": [ref]},
    ),
    (
        ("POST", "/v1/findings"),
        "validator",
        "model_id",
        lambda ref, a: {"model_id": ref, "severity": "high", "title": "A on B's model"},
    ),
    (
        ("PUT", "/v1/policy"),
        "admin",
        "principal_id",
        lambda ref, a: {**DEFAULT_BODY, "escalation_contact_ids": [ref]},
    ),
]


@pytest.mark.parametrize(
    ("route", "role", "kind", "build"),
    [
        pytest.param(*case, id=f"{route_id(case[0])} naming B's {case[2]} #{n}")
        for n, case in enumerate(BODY_REFS)
    ],
)
def test_a_body_naming_tenant_bs_object_is_answered_as_if_it_did_not_exist(
    world: World, route: Route, role: str, kind: str, build: Build
) -> None:
    method, template = route
    path = fill(template, world.a.ids)
    before = b_state(world)

    def attempt(ref: str) -> Answer:
        headers: dict[str, str] = {}
        if needs_if_match(method):
            headers["If-Match"] = current_etag(world.api, world.a.tenant, template, path)
        return world.api.call(
            method, path, key(world.a, role), build(ref, world.a), headers=headers
        )

    missing = attempt(missing_like(world.b.ids[kind]))
    answer = attempt(world.b.ids[kind])
    assert 400 <= answer.status < 500, f"A referenced B's {kind}: {answer.status} {answer.json}"
    assert (answer.status, answer.json["type"]) == (missing.status, missing.json["type"])
    assert_no_b_data(world, answer, sent=world.b.ids[kind])
    assert b_state(world) == before


# --- the coverage guard ------------------------------------------------------------------

# Each route without an id in its path, and the test here that checks its isolation.
PARAMLESS: dict[Route, str] = {
    ("GET", "/v1/health"): "test_public_routes_carry_no_tenant_data",
    ("GET", "/v1/openapi.json"): "test_public_routes_carry_no_tenant_data",
    ("GET", "/v1/me"): "test_me_names_the_callers_own_tenant",
    ("POST", "/v1/tenants"): "test_platform_only_routes_refuse_every_tenant_role",
    ("GET", "/v1/tenants"): "test_platform_only_routes_refuse_every_tenant_role",
    ("POST", "/v1/principals"): "test_a_principal_created_by_tenant_a_lives_only_in_tenant_a",
    ("POST", "/v1/webhooks"): "test_a_webhook_created_by_tenant_a_lives_only_in_tenant_a",
    (
        "POST",
        "/v1/api-keys",
    ): "test_a_body_naming_tenant_bs_object_is_answered_as_if_it_did_not_exist",
    (
        "POST",
        "/v1/models",
    ): "test_a_body_naming_tenant_bs_object_is_answered_as_if_it_did_not_exist",
    ("GET", "/v1/audit/verify"): "test_audit_verification_covers_only_the_callers_own_chain",
    ("GET", "/v1/policy"): "test_the_policy_in_force_is_the_callers_own",
    ("POST", "/v1/exports"): "test_an_export_requested_by_tenant_a_lives_only_in_tenant_a",
    (
        "GET",
        "/v1/reports/compliance",
    ): "test_the_compliance_report_counts_only_the_callers_own_models",
    (
        "POST",
        "/v1/findings",
    ): "test_a_body_naming_tenant_bs_object_is_answered_as_if_it_did_not_exist",
    ("POST", "/v1/compliance-scans"): "test_a_scan_asked_for_by_tenant_a_is_tenant_as_alone",
    (
        "PUT",
        "/v1/policy",
    ): "test_a_body_naming_tenant_bs_object_is_answered_as_if_it_did_not_exist",
    **{route: "test_a_cursor_minted_for_tenant_b_is_a_400_for_tenant_a" for route in LISTS},
}


def routes_covered_by(test_name: str) -> list[Route]:
    return sorted(route for route, name in PARAMLESS.items() if name == test_name)


def test_every_route_of_the_app_is_covered_by_an_isolation_check() -> None:
    from chalicelib.api.http import REGISTRY

    problems = []
    routes = app_routes()
    for route in routes:
        method, path = route
        params = path_params(path)
        unknown = [p for p in params if p not in PARAM_IDS]
        if unknown:
            problems.append(f"{route_id(route)}: path parameter(s) {unknown} not in PARAM_IDS")
        if params and method != "GET" and route not in BODIES:
            problems.append(f"{route_id(route)}: no valid body in BODIES")
        if not params and route not in PARAMLESS:
            problems.append(f"{route_id(route)}: no id in its path and no entry in PARAMLESS")
    for op in REGISTRY:
        route = (op.method, op.path)
        paginated = any(q.name == "cursor" for q in op.query)
        if paginated and route not in LISTS and PERMISSIONS.get(route) != {"platform"}:
            problems.append(f"{route_id(route)}: a tenant list missing from LISTS")
    for route, name in PARAMLESS.items():
        if not callable(globals().get(name)) or not name.startswith("test_"):
            problems.append(f"{route_id(route)}: PARAMLESS names no test of this file: {name}")
        if route not in routes:
            problems.append(f"{route_id(route)}: in PARAMLESS but not a route of the app")
    for route, *_ in BODY_REFS:
        if route not in routes:
            problems.append(f"{route_id(route)}: in BODY_REFS but not a route of the app")
    assert not problems, "isolation is not checked everywhere:\n" + "\n".join(problems)
