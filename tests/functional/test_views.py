"""GETs render stored items without pydantic (`domain/views.py`); these tests hold each view
to the outbound model it stands for, on items stored through the API, so the two cannot
drift: every answer is byte for byte what the model would have serialized."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain import models as m
from chalicelib.domain import views
from chalicelib.services import records
from chalicelib.services.reads import key_fields
from chalicelib.store.scope import for_tenant
from chalicelib.store.tenants import get as stored_tenant
from tests.conftest import PLATFORM_KEY, Api, Tenant, new_model

Item = dict[str, Any]


def test_each_view_lists_its_models_fields_in_order_with_their_defaults() -> None:
    for name, view in views.MODELS.items():
        model = getattr(m, name)
        assert view.fields == tuple(model.model_fields), name
        lists = {n for n, f in model.model_fields.items() if f.default_factory is list}
        assert view.lists == lists, name
        times = {n for n, f in model.model_fields.items() if "datetime" in str(f.annotation)}
        assert view.times == times, name


def test_every_get_answering_a_viewed_model_is_held_to_it_here() -> None:
    from app import app
    from chalicelib.api.http import REGISTRY

    assert app.routes  # the routes are declared
    viewed = set(views.MODELS)
    answered = set()
    for op in REGISTRY:
        if op.method != "GET" or op.response is None:
            continue
        items = op.response.model_fields.get("items")
        shown = items.annotation.__args__[0] if items and items.annotation else op.response
        answered.add(shown.__name__)
    # The GETs still answered through pydantic (artifacts, approval requests, deployments,
    # metric points, the policy, webhooks, reports, exports and audit anchors: none is the
    # cold path's, each imports pydantic on its own first request) are not viewed.
    assert viewed - {"AuditActor", "AuditSubject", "VersionApproval"} <= answered
    assert answered - viewed == {
        "ArtifactView",
        "Artifact",
        "AuditAnchor",
        "ApprovalRequest",
        "Policy",
        "Deployment",
        "DataPoint",
        "Finding",
        "ComplianceScan",
        "Webhook",
        "Delivery",
        "ComplianceReport",
        "InventoryRow",
        "Export",
    }


def same_as_model(answer: Any, model: type[m.Outbound], stored: Any) -> None:
    """The API's answer is the model's serialization of the stored item(s), to the byte."""
    assert answer.status == 200, answer.json
    if isinstance(stored, list):
        page = {"items": stored, "next_cursor": answer.json["next_cursor"]}
        expected = model.model_validate(page).model_dump_json()
    else:
        expected = model.model_validate(stored).model_dump_json()
    assert answer.raw.decode() == expected


def on_a_whole_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next writes are stamped on a whole second (no fraction for pydantic to write)."""
    monkeypatch.setattr(records, "now", lambda: datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC))


def test_models_and_versions_answer_what_their_models_would(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN models with every field, with the fewest, stamped on a whole second, and
    # patched to clear optional fields; versions with and without lineage and a card
    key = tenant.keys["developer"]
    full = new_model(
        api,
        tenant,
        intended_use="Retail credit décisions",  # not ASCII: written as is, not escaped
        restrictions="No SME",
        business_unit="Retail",
        source_system="mlflow",
        external_id="runs:/1",
        inputs=["income"],
        outputs=["pd"],
        tags=["credit", "tier:2"],
        regulatory_scope=["sr-11-7"],
    )
    upstream = new_model(api, tenant, upstream_model_ids=[full["id"]])
    minimal = new_model(api, tenant)
    patched = api.patch(
        f"/v1/models/{full['id']}",
        key,
        {"restrictions": None, "tags": None},
        headers={"If-Match": '"1"'},
    )
    assert patched.status == 200, patched.json
    on_a_whole_second(monkeypatch)
    whole = new_model(api, tenant, name="Whole second")
    monkeypatch.undo()
    for model_id in (full["id"], minimal["id"]):
        card = {"model_card": {"metrics": "AUC 0.8"}, "lineage": {"commit": "9fceb02"}}
        for body in (card, {}):
            answer = api.post(f"/v1/models/{model_id}/versions", key, body)
            assert answer.status == 201, answer.json
    store = for_tenant(tenant.id)

    # THEN each GET answers what the model makes of the stored item
    ids = [full["id"], upstream["id"], minimal["id"], whole["id"]]
    for model_id in ids:
        item = store.inventory.get_model(model_id)
        assert item is not None
        same_as_model(api.get(f"/v1/models/{model_id}", key), m.Model, item)
    page = api.get("/v1/models?limit=3", key)
    stored = [store.inventory.get_model(i["id"]) for i in page.json["items"]]
    same_as_model(page, m.ModelList, stored)
    for number in (1, 2):
        version = store.inventory.get_version(full["id"], number)
        assert version is not None
        same_as_model(
            api.get(f"/v1/models/{full['id']}/versions/{number}", key), m.Version, version
        )
    versions = api.get(f"/v1/models/{full['id']}/versions", key)
    stored = [store.inventory.get_version(full["id"], n) for n in (1, 2)]
    same_as_model(versions, m.VersionList, stored)


def test_tenants_principals_keys_and_the_caller_answer_what_their_models_would(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a tenant with a service account without an email, a key expiring at an
    # offset from UTC, a revoked key and a break-glass key, and one principal and its key
    # made on a whole second
    admin = tenant.keys["admin"]
    service = api.post(
        "/v1/principals", admin, {"name": "CI", "kind": "service", "roles": ["monitor"]}
    )
    assert service.status == 201, service.json
    expiring = api.post(
        "/v1/api-keys",
        admin,
        {
            "principal_id": service.json["id"],
            "name": "ci",
            "expires_at": "2099-01-02T03:04:05.6+02:00",
        },
    )
    revoked = api.post("/v1/api-keys", admin, {"principal_id": service.json["id"], "name": "old"})
    assert api.delete(f"/v1/api-keys/{revoked.json['id']}", admin).status == 204
    glass = api.post(
        f"/v1/tenants/{tenant.id}/admin-keys",
        PLATFORM_KEY,
        {"name": "break-glass", "reason": "The admin lost every key (OPS-1)"},
    )
    assert glass.status == 201, glass.json
    on_a_whole_second(monkeypatch)
    whole = api.post("/v1/principals", admin, {"name": "Whole", "roles": ["auditor"]})
    whole_key = api.post("/v1/api-keys", admin, {"principal_id": whole.json["id"], "name": "w"})
    monkeypatch.undo()
    store = for_tenant(tenant.id)

    # THEN each GET answers what the model makes of the stored item
    same_as_model(
        api.get(f"/v1/tenants/{tenant.id}", PLATFORM_KEY), m.Tenant, stored_tenant(tenant.id)
    )
    tenants = api.get("/v1/tenants?limit=100", PLATFORM_KEY)
    same_as_model(tenants, m.TenantList, [stored_tenant(t["id"]) for t in tenants.json["items"]])
    for principal_id in (service.json["id"], whole.json["id"], tenant.ids["developer"]):
        item = store.principals.get(principal_id)
        same_as_model(api.get(f"/v1/principals/{principal_id}", admin), m.Principal, item)
    principals = api.get("/v1/principals?limit=100", admin)
    stored = [store.principals.get(p["id"]) for p in principals.json["items"]]
    same_as_model(principals, m.PrincipalList, stored)

    def key_item(key_id: str) -> Item:
        item = store.principals.get_key(key_id)
        assert item is not None
        return key_fields(item)

    for key_id in (expiring.json["id"], revoked.json["id"], whole_key.json["id"]):
        same_as_model(api.get(f"/v1/api-keys/{key_id}", admin), m.ApiKey, key_item(key_id))
    keys = api.get(f"/v1/api-keys?principal_id={service.json['id']}", admin)
    same_as_model(keys, m.ApiKeyList, [key_item(k["id"]) for k in keys.json["items"]])
    glass_path = f"/v1/tenants/{tenant.id}/admin-keys/{glass.json['id']}"
    same_as_model(api.get(glass_path, PLATFORM_KEY), m.ApiKey, key_item(glass.json["id"]))
    me = api.get("/v1/me", tenant.keys["developer"])
    assert me.raw.decode() == m.Me.model_validate(me.json).model_dump_json()
    platform = api.get("/v1/me", PLATFORM_KEY)
    assert platform.raw.decode() == m.Me.model_validate(platform.json).model_dump_json()
    health = api.get("/v1/health")
    assert health.raw.decode() == m.Health.model_validate(health.json).model_dump_json()


def test_audit_events_and_verification_answer_what_their_models_would(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a trail of the platform's, the admin's and a developer's changes, the model's
    # update carrying a before and an after
    model = new_model(api, tenant)
    key = tenant.keys["developer"]
    assert api.patch(f"/v1/models/{model['id']}", key, {"tags": ["x"]}, etag='"1"').status == 200
    auditor = tenant.keys["auditor"]
    store = for_tenant(tenant.id)

    # THEN the page answers what the model makes of the stored events
    page = api.get("/v1/audit-events?limit=100", auditor)
    stored = []
    for event in page.json["items"]:
        (item,), _ = store.audit.list_page(1, None, event["seq"])
        stored.append({**json.loads(item["body"]), "hash": item["hash"]})
    assert {e["actor"]["kind"] for e in stored} == {"platform", "principal"}
    same_as_model(page, m.AuditEventList, stored)
    # AND so does a verification, full and from the checkpoint
    for path in ("/v1/audit/verify?full=true", "/v1/audit/verify"):
        verified = api.get(path, auditor)
        assert verified.json["valid"], verified.json
        same_as_model(verified, m.AuditVerification, verified.json)
