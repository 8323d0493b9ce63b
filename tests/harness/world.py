"""A tenant with a principal and key for every role, made through the API as a user would.

Every key `make_tenant` hands out is issued by the tenant's admin, as an admin issues keys.
Such a key cannot judge risk: classify a model, decide an approval stage or accept a
finding's risk (403: `domain.duties.require_own_key`). A test in which a principal judges
gives it a key of its own first, one rotation each:

    tenant = make_tenant(api, "Acme", PLATFORM_KEY, own_keys_for=JUDGES)  # at creation, or
    own_keys(api, tenant, "validator", "approver")                     # later, or the
    def test_...(judges: Tenant)   # conftest fixture: `tenant`, its JUDGES rotated

and goes on using `tenant.keys[person]`, which then holds the rotated secret (the
admin-issued key is revoked). `issued_keys` keeps the admin-issued secrets of the people
who rotated, for tests that show such a key refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.harness.clients import ApiClient


@dataclass
class Tenant:
    """A tenant made through the API, with a principal and key for every role."""

    id: str
    keys: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    # The admin-issued secrets of the people whose keys `own_keys` rotated (now revoked).
    issued_keys: dict[str, str] = field(default_factory=dict)


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
# The people of PEOPLE who judge risk: they need keys of their own to classify and decide.
JUDGES = ("validator", "validator2", "approver", "approver2")


def make_tenant(
    api: ApiClient,
    name: str,
    platform_key: str,
    people: dict[str, list[str]] | None = None,
    own_keys_for: Iterable[str] = (),
) -> Tenant:
    """A tenant made through the API, with a principal and an admin-issued key for each of
    `people` (by default one or two for every role); the people in `own_keys_for` then rotate
    theirs, so their keys are their own (see the module docstring)."""
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
    return own_keys(api, tenant, *own_keys_for)


def key_id_of(token: str) -> str:
    """The key id of a bearer token `cus_<key id>_<secret>`."""
    return "_".join(token.split("_", 3)[1:3])


def rotate(api: ApiClient, token: str) -> str:
    """Rotate the key `token` with itself; the new secret (the old key is revoked)."""
    rotated = api.post(f"/v1/me/api-keys/{key_id_of(token)}/rotate", token)
    assert rotated.status == 201, rotated.json
    return str(rotated.json["secret"])


def own_keys(api: ApiClient, tenant: Tenant, *people: str) -> Tenant:
    """Give each of `people` a key of its own: one rotation each, the new secret in
    `tenant.keys[person]` (the admin-issued one kept in `tenant.issued_keys`). A person
    whose key is already its own is left as it is. Returns the tenant."""
    for person in people:
        if person in tenant.issued_keys:
            continue
        tenant.issued_keys[person] = tenant.keys[person]
        tenant.keys[person] = rotate(api, tenant.keys[person])
    return tenant


def secret_part(token: str) -> str:
    """The secret of a bearer token `cus_<key id>_<secret>` (the secret itself may hold `_`)."""
    return token.split("_", 3)[3]


def confirm_tier(
    api: ApiClient, tenant: Tenant, model: dict[str, Any], by: str = "validator"
) -> None:
    """`by` (a validator or approver outside the team; its key made its own here) confirms
    the tier and scope `model` was registered with, so the policy applies that tier."""
    own_keys(api, tenant, by)
    path = f"/v1/models/{model['id']}"
    etag = api.get(path, tenant.keys[by]).headers["etag"]
    body = {"risk_tier": model["risk_tier"], "regulatory_scope": model["regulatory_scope"]}
    answer = api.call("POST", f"{path}/classification", tenant.keys[by], body, {"If-Match": etag})
    assert answer.status == 200, answer.json
