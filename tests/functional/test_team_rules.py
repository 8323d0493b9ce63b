"""A model's team holds developers only, and rights are checked for every field sent."""

from __future__ import annotations

from tests.conftest import Api, Tenant, new_model, own_keys


def test_validators_and_approvers_cannot_be_made_developers_so_nobody_is_locked_out(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a model of the developer's
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    judges = [tenant.ids[p] for p in ("validator", "validator2", "approver", "approver2")]
    # WHEN the developer adds every validator and approver as developers
    added = api.patch(
        path,
        tenant.keys["developer"],
        {"developer_ids": [tenant.ids["developer"], *judges]},
        '"1"',
    )
    # THEN that is refused, naming each one, and nobody joined the team's past
    assert added.status == 422, added.json
    assert [e["field"] for e in added.json["errors"]] == [
        f"body.developer_ids[{i}]" for i in range(1, 5)
    ]
    after = api.get(path, tenant.keys["developer"]).json
    assert set(after["past_team_ids"]) == {tenant.ids["developer"]}
    # AND a validator can still classify the model
    own_keys(api, tenant, "validator")
    classified = api.call(
        "POST",
        f"{path}/classification",
        tenant.keys["validator"],
        {"risk_tier": 1, "regulatory_scope": []},
        {"If-Match": '"1"'},
    )
    assert classified.status == 200 and classified.json["risk_tier"] == 1


def test_the_owner_must_hold_the_developer_role(api: Api, tenant: Tenant) -> None:
    body = {"name": "X", "purpose": "Y", "risk_tier": 3, "owner_id": tenant.ids["approver"]}
    answer = api.post("/v1/models", tenant.keys["developer"], body)
    assert answer.status == 422
    assert answer.json["errors"][0]["field"] == "body.owner_id"


def test_a_patch_that_changes_nothing_still_needs_the_teams_rights(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a model, and a developer outside its team
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    # WHEN the outsider sends a descriptive field with its current value
    noop = api.patch(path, tenant.keys["developer2"], {"purpose": model["purpose"]}, '"1"')
    # THEN it is refused as a change would be
    assert noop.status == 403, noop.json
    # while the team's own no-op is answered with the model unchanged
    same = api.patch(path, tenant.keys["developer"], {"purpose": model["purpose"]}, '"1"')
    assert same.status == 200 and same.json["revision"] == 1


def test_rights_are_checked_before_if_match(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    answer = api.patch(f"/v1/models/{model['id']}", tenant.keys["developer2"], {"purpose": "x"})
    assert answer.status == 403
