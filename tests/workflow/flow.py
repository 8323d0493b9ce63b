"""A version through its approval workflow, as its team and its deciders do it over the
API, with moto executing the state machine and the local dispatcher driving the queues."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import boto3

from chalicelib.domain.policy import DEFAULT_BODY
from tests.conftest import Answer, Api, Tenant, confirm_tier, new_model
from tests.harness.uploads import artifact_body, put
from tests.harness.world import rotate
from tests.workflow.conftest import until

CARD = {"intended_use": "Retail credit decisions", "metrics": "AUC 0.81 on the 2025 holdout"}


def submitted(
    api: Api,
    tenant: Tenant,
    risk_tier: int = 2,
    key: str = "developer",
    artifact: bytes | None = None,
    confirmed: bool = True,
    **model: Any,
) -> dict[str, Any]:
    """A new model of `risk_tier`, a version 1 with a complete model card (and `artifact`
    uploaded and verified as model.bin), submitted."""
    found = new_model(api, tenant, risk_tier=risk_tier, **model)
    if confirmed:  # else the policy treats it as tier 1
        confirm_tier(api, tenant, found)
    versions = f"/v1/models/{found['id']}/versions"
    version = api.post(versions, tenant.keys[key], {"model_card": CARD})
    assert version.status == 201, version.json
    if artifact is not None:
        made = api.post(f"{versions}/1/artifacts", tenant.keys[key], artifact_body(artifact))
        put(made.json["upload"], artifact)
        done = api.post(f"{versions}/1/artifacts/model.bin/complete", tenant.keys[key])
        assert done.status == 200, done.json
    answer = submit(api, tenant, found["id"], key=key)
    assert answer.status == 201, answer.json
    return dict(answer.json)


def submit(
    api: Api, tenant: Tenant, model_id: str, number: int = 1, key: str = "developer", **kw: Any
) -> Answer:
    path = f"/v1/models/{model_id}/versions/{number}/approval-requests"
    return api.post(path, tenant.keys[key], {"kind": "approval"}, **kw)


def read(api: Api, tenant: Tenant, request_id: str) -> dict[str, Any]:
    answer = api.get(f"/v1/approval-requests/{request_id}", tenant.keys["auditor"])
    assert answer.status == 200, answer.json
    return dict(answer.json)


def decide(
    api: Api, tenant: Tenant, request_id: str, who: str, outcome: str = "approve", **body: Any
) -> Answer:
    sent = {"outcome": outcome, **body}
    if outcome == "reject":
        sent.setdefault("comment", "not good enough")
    return api.post(f"/v1/approval-requests/{request_id}/decisions", tenant.keys[who], sent)


def stage_open(
    api: Api, tenant: Tenant, request_id: str, index: int, pump: Callable[[], int]
) -> dict[str, Any]:
    """The request once its stage `index` is open (pumping the dispatcher meanwhile)."""

    def opened() -> dict[str, Any] | None:
        request = read(api, tenant, request_id)
        return request if request["stages"][index]["status"] == "open" else None

    found: dict[str, Any] = until(opened, pump)
    return found


def settled(
    api: Api, tenant: Tenant, request_id: str, status: str, pump: Callable[[], int]
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        request = read(api, tenant, request_id)
        return request if request["status"] == status else None

    found: dict[str, Any] = until(reached, pump)
    return found


def execution(request_id: str, env: dict[str, str]) -> dict[str, Any]:
    machine = env["CUSTOS_APPROVAL_STATE_MACHINE_ARN"]
    arn = machine.replace(":stateMachine:", ":execution:") + f":{request_id}"
    return dict(boto3.client("stepfunctions").describe_execution(executionArn=arn))


def set_policy(api: Api, tenant: Tenant, edit: Callable[[dict[str, Any]], None]) -> None:
    """The tenant's policy: the defaults with `edit` applied."""
    current = api.get("/v1/policy", tenant.keys["admin"])
    body = copy.deepcopy(DEFAULT_BODY)
    edit(body)
    answer = api.call(
        "PUT",
        "/v1/policy",
        tenant.keys["admin"],
        body,
        headers={"If-Match": current.headers["etag"]},
    )
    assert answer.status == 200, answer.json


def actions(api: Api, tenant: Tenant) -> list[str]:
    from tests.functional.route_fixtures import items_of

    return [e["action"] for e in items_of(api, "/v1/audit-events", tenant.keys["auditor"])]


def person(api: Api, tenant: Tenant, name: str, *roles: str) -> str:
    """A new principal of the tenant with `roles` and a key, known by `name` in `tenant`."""
    admin = tenant.keys["admin"]
    principal = api.post("/v1/principals", admin, {"name": name, "roles": list(roles)})
    assert principal.status == 201, principal.json
    tenant.ids[name] = principal.json["id"]
    tenant.keys[name] = rotate(api, second_key(api, tenant, name))  # a key of its own
    return str(principal.json["id"])


def second_key(api: Api, tenant: Tenant, name: str) -> str:
    """Another key of the principal known by `name` (the same person, another secret)."""
    body = {"principal_id": tenant.ids[name], "name": f"{name} key"}
    key = api.post("/v1/api-keys", tenant.keys["admin"], body)
    assert key.status == 201, key.json
    return str(key.json["secret"])


def inbox(api: Api, tenant: Tenant, who: str) -> list[str]:
    answer = api.get("/v1/approval-requests?actionable=true", tenant.keys[who])
    assert answer.status == 200, answer.json
    return [r["id"] for r in answer.json["items"]]
