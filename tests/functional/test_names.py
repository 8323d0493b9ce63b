"""Names (tenants, principals, models, API keys) refuse what would make them lie or vanish."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import PLATFORM_KEY, Answer, Api, Tenant, new_model

REFUSED = [
    ("Retail\x00PD", "control characters"),
    ("Retail\nPD", "control characters"),
    ("Retail \u202eDP", "bidirectional override"),
    ("\u2067Retail\u2069", "bidirectional override"),
    ("\u200b", "visible character"),
    (" \u200b\u200d\u2060\ufeff ", "visible character"),
    ("\u3164\u115f", "visible character"),
]


def create_tenant(api: Api, tenant: Tenant, name: str, field: str = "name") -> Answer:
    body = {"name": "Initech", "admin_name": "Bill", "admin_email": "bill@initech.example"}
    return api.post("/v1/tenants", PLATFORM_KEY, {**body, field: name})


def create_principal(api: Api, tenant: Tenant, name: str) -> Answer:
    return api.post("/v1/principals", tenant.keys["admin"], {"name": name, "roles": ["auditor"]})


def create_model(api: Api, tenant: Tenant, name: str) -> Answer:
    body = {"name": name, "purpose": "Probability of default", "risk_tier": 2}
    return api.post("/v1/models", tenant.keys["developer"], body)


def create_key(api: Api, tenant: Tenant, name: str) -> Answer:
    body = {"principal_id": tenant.ids["auditor"], "name": name}
    return api.post("/v1/api-keys", tenant.keys["admin"], body)


def create_tenant_admin(api: Api, tenant: Tenant, name: str) -> Answer:
    return create_tenant(api, tenant, name, field="admin_name")


CREATORS: list[Callable[[Api, Tenant, str], Answer]] = [
    create_tenant,
    create_tenant_admin,
    create_principal,
    create_model,
    create_key,
]


def listed(api: Api, tenant: Tenant) -> dict[str, Any]:
    return {
        "tenants": api.get("/v1/tenants", PLATFORM_KEY).json["items"],
        "principals": api.get("/v1/principals", tenant.keys["admin"]).json["items"],
        "models": api.get("/v1/models", tenant.keys["developer"]).json["items"],
        "keys": api.get("/v1/api-keys", tenant.keys["admin"]).json["items"],
    }


@pytest.mark.parametrize("create", CREATORS, ids=lambda c: c.__name__)
def test_a_name_with_control_bidi_or_only_invisible_characters_is_400_and_creates_nothing(
    api: Api, tenant: Tenant, create: Callable[[Api, Tenant, str], Answer]
) -> None:
    before = listed(api, tenant)
    for name, says in REFUSED:
        answer = create(api, tenant, name)
        assert answer.status == 400, (ascii(name), answer.json)
        (error,) = answer.json["errors"]
        assert error["field"] in ("body.name", "body.admin_name")
        assert says in error["message"], (ascii(name), error)
    assert listed(api, tenant) == before


def test_a_renamed_model_is_held_to_the_same_rule(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    answer = api.patch(path, tenant.keys["developer"], {"name": "\u200b\u200b"}, '"1"')
    assert answer.status == 400 and answer.json["errors"][0]["field"] == "body.name"
    assert api.get(path, tenant.keys["developer"]).json["name"] == model["name"]


def test_a_name_typed_decomposed_is_stored_composed_nfc(api: Api, tenant: Tenant) -> None:
    # GIVEN "Café" typed as e + combining acute (NFD) WHEN the model is registered
    created = create_model(api, tenant, "Cafe\u0301 scoring")
    # THEN it reads back composed, as the same name typed the other way would
    assert created.status == 201
    model = api.get(f"/v1/models/{created.json['id']}", tenant.keys["developer"]).json
    assert model["name"] == "Caf\u00e9 scoring"
    principal = create_principal(api, tenant, "Zo\u0308e")  # o + combining diaeresis
    assert principal.json["name"] == "Z\u00f6e"


def test_visible_names_in_any_script_are_kept_as_sent(api: Api, tenant: Tenant) -> None:
    for name in ("Kreditrisiko Ölmarkt", "信用评分", "مخاطر الائتمان", "Model 🚀", "a\u200db"):
        created = create_model(api, tenant, name)
        assert created.status == 201 and created.json["name"] == name, ascii(name)


def test_the_document_states_the_name_rule_for_every_named_object(api: Api) -> None:
    schemas = api.get("/v1/openapi.json").json["components"]["schemas"]
    patterns = {
        (model, field): schemas[model]["properties"][field].get("pattern")
        for model, field in [
            ("TenantCreate", "name"),
            ("TenantCreate", "admin_name"),
            ("PrincipalCreate", "name"),
            ("ModelCreate", "name"),
            ("ApiKeyCreate", "name"),
            ("ModelPatch", "name"),
        ]
    }
    assert len(set(patterns.values())) == 1
    (pattern,) = set(patterns.values())
    assert pattern is not None
    assert re.fullmatch(pattern, "Caf\u00e9") and not re.fullmatch(pattern, "\u200b")
