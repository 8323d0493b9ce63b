"""The tenant's deployment history by time, as a point-in-time inventory reads it from the
store (`Deployments.in_force_at`): deployments made and ended over the API."""

from __future__ import annotations

import time
from datetime import datetime

from chalicelib.store.scope import for_tenant
from tests.conftest import Api, Tenant, new_model


def deploy(api: Api, tenant: Tenant, version: str, environment: str, target: str) -> str:
    answer = api.post(
        f"{version}/deployments",
        tenant.keys["developer"],
        {"environment": environment, "target": target},
    )
    assert answer.status == 201, answer.json
    time.sleep(0.005)  # distinct milliseconds: the history's times are stored to the ms
    return str(answer.headers["location"])


def test_in_force_at_answers_what_ran_in_an_environment_at_each_moment_across_models(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    # GIVEN two models' versions deployed to staging at different times, one ended, and a
    # development deployment and another tenant's staging deployment beside them
    versions = []
    for name in ("PD", "LGD"):
        model = new_model(api, tenant, name=name)
        assert api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
        versions.append(f"/v1/models/{model['id']}/versions/1")
    first = deploy(api, tenant, versions[0], "staging", "blue")
    second = deploy(api, tenant, versions[1], "staging", "green")
    assert api.call("DELETE", first, tenant.keys["developer"]).status == 204
    time.sleep(0.005)
    deploy(api, tenant, versions[0], "development", "laptop")
    theirs = new_model(api, other_tenant)
    path = f"/v1/models/{theirs['id']}/versions"
    assert api.post(path, other_tenant.keys["developer"], {}).status == 201
    deploy(api, other_tenant, f"{path}/1", "staging", "theirs")
    a = api.get(first, tenant.keys["auditor"]).json
    b = api.get(second, tenant.keys["auditor"]).json
    store = for_tenant(tenant.id)

    def staging_at(moment: str) -> list[str]:
        items, last = store.deployments.in_force_at("staging", datetime.fromisoformat(moment))
        assert last is None
        return sorted(i["id"] for i in items)

    # THEN each moment answers the deployments valid then, the tenant's own, of staging only
    assert staging_at("2000-01-01T00:00:00.000Z") == []
    assert staging_at(a["since"]) == [a["id"]]
    assert staging_at(b["since"]) == sorted([a["id"], b["id"]])
    assert staging_at(a["until"]) == [b["id"]]
    assert staging_at("2999-01-01T00:00:00.000Z") == [b["id"]]
