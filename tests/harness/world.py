"""A tenant with a principal and key for every role, made through the API as a user would."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.harness.clients import ApiClient


@dataclass
class Tenant:
    """A tenant made through the API, with a principal and key for every role."""

    id: str
    keys: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


PEOPLE = {
    "developer": ["developer"],
    "developer2": ["developer"],
    "validator": ["validator"],
    "validator2": ["validator"],
    "approver": ["approver"],
    "approver2": ["approver"],
    "auditor": ["auditor"],
    "monitor": ["monitor"],
}


def make_tenant(
    api: ApiClient, name: str, platform_key: str, people: dict[str, list[str]] | None = None
) -> Tenant:
    """A tenant made through the API, with a principal and key for each of `people`
    (by default one or two for every role)."""
    created = api.post(
        "/v1/tenants",
        platform_key,
        {"name": name, "admin_name": f"{name} admin", "admin_email": "admin@example.com"},
    )
    assert created.status == 201, created.json
    tenant = Tenant(created.json["tenant"]["id"])
    tenant.keys["admin"] = created.json["api_key"]["secret"]
    tenant.ids["admin"] = created.json["admin"]["id"]
    for person, roles in (PEOPLE if people is None else people).items():
        principal = api.post(
            "/v1/principals", tenant.keys["admin"], {"name": f"{name} {person}", "roles": roles}
        )
        assert principal.status == 201, principal.json
        tenant.ids[person] = principal.json["id"]
        key = api.post(
            "/v1/api-keys",
            tenant.keys["admin"],
            {"principal_id": principal.json["id"], "name": person},
        )
        assert key.status == 201, key.json
        tenant.keys[person] = key.json["secret"]
    return tenant


def secret_part(token: str) -> str:
    """The secret of a bearer token `cus_<key id>_<secret>` (the secret itself may hold `_`)."""
    return token.split("_", 3)[3]
