"""The Authorization header as RFC 9110 section 11 spells it."""

from __future__ import annotations

import pytest

from tests.conftest import PLATFORM_KEY, Api, Tenant


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(api: Api, tenant: Tenant, scheme: str) -> None:
    key = tenant.keys["developer"]
    me = api.get("/v1/me", headers={"Authorization": f"{scheme} {key}"})
    assert me.status == 200 and me.json["principal_id"] == tenant.ids["developer"]
    platform = api.get("/v1/tenants", headers={"Authorization": f"{scheme} {PLATFORM_KEY}"})
    assert platform.status == 200


def test_more_than_one_space_after_the_scheme_is_accepted(api: Api, tenant: Tenant) -> None:
    answer = api.get("/v1/me", headers={"Authorization": f"bearer   {tenant.keys['admin']}"})
    assert answer.status == 200 and answer.json["roles"] == ["admin"]


@pytest.mark.parametrize("header", ["Bearer", "bearer ", "Basic {key}", "Bearer{key}", "{key}"])
def test_another_scheme_or_no_token_is_401(api: Api, tenant: Tenant, header: str) -> None:
    answer = api.get("/v1/me", headers={"Authorization": header.format(key=tenant.keys["admin"])})
    assert answer.status == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Authorization: Bearer" in answer.json["detail"]
