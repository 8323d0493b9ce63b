"""A registrant's risk tier is a proposal until someone independent classifies the model."""

from __future__ import annotations

from typing import Any

from tests.conftest import Answer, Api, Tenant, new_model, own_keys
from tests.harness.world import key_id_of, rotate


def classify(
    api: Api, key: str, model_id: str, etag: str | None, tier: int, scope: list[str] | None = None
) -> Answer:
    headers = {"If-Match": etag} if etag is not None else {}
    body: dict[str, Any] = {"risk_tier": tier, "regulatory_scope": scope or []}
    return api.call("POST", f"/v1/models/{model_id}/classification", key, body, headers)


def test_a_registered_tier_is_a_proposal_and_the_policy_treats_it_as_tier_1(
    api: Api, tenant: Tenant
) -> None:
    model = new_model(api, tenant, risk_tier=3)
    assert (model["risk_tier"], model["risk_tier_confirmed"]) == (3, False)
    assert model["risk_tier_in_force"] == 1
    assert (model["classified_by"], model["classified_at"]) == (None, None)


def test_a_validator_outside_the_team_confirms_the_proposed_tier_and_that_counts(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a model proposed as tier 3, and a validator with a key of its own
    model = new_model(api, tenant, risk_tier=3, regulatory_scope=["sr-11-7"])
    own_keys(api, tenant, "validator")
    key = tenant.keys["validator"]
    # WHEN the validator confirms tier 3 and the scope
    answer = classify(api, key, model["id"], '"1"', 3, ["sr-11-7", "eu-ai-act:high"])
    # THEN the tier is confirmed and in force, and says by whom and when
    assert answer.status == 200, answer.json
    classified = answer.json
    assert answer.headers["etag"] == '"2"'
    assert (classified["risk_tier"], classified["risk_tier_in_force"]) == (3, 3)
    assert classified["risk_tier_confirmed"] is True
    assert classified["regulatory_scope"] == ["sr-11-7", "eu-ai-act:high"]
    assert classified["classified_by"] == tenant.ids["validator"] and classified["classified_at"]
    assert api.get(f"/v1/models/{model['id']}", key).json == classified
    # AND the audit trail records it, with the key used and who issued that key
    last = api.get("/v1/audit-events?limit=100", tenant.keys["auditor"]).json["items"][-1]
    assert (last["action"], last["subject"]["id"]) == ("model.classified", model["id"])
    assert last["after"]["risk_tier_confirmed"] is True and "risk_tier" not in last["after"]
    assert last["actor"]["key_id"] == key_id_of(key)
    assert last["actor"]["key_issued_by"] == tenant.ids["validator"]


def test_an_approver_changes_the_tier_and_a_later_classification_replaces_it(
    api: Api, tenant: Tenant
) -> None:
    model = new_model(api, tenant, risk_tier=3)
    own_keys(api, tenant, "approver", "validator")
    first = classify(api, tenant.keys["approver"], model["id"], '"1"', 2)
    assert first.status == 200 and first.json["risk_tier_in_force"] == 2
    second = classify(api, tenant.keys["validator"], model["id"], '"2"', 1, ["sr-11-7"])
    assert second.status == 200, second.json
    assert second.json["classified_by"] == tenant.ids["validator"]
    assert (second.json["risk_tier"], second.json["regulatory_scope"]) == (1, ["sr-11-7"])


def test_classifying_needs_a_current_etag(api: Api, tenant: Tenant) -> None:
    model = new_model(api, tenant)
    own_keys(api, tenant, "validator")
    key = tenant.keys["validator"]
    assert classify(api, key, model["id"], None, 2).status == 428
    assert classify(api, key, model["id"], '"7"', 2).status == 412
    assert api.get(f"/v1/models/{model['id']}", key).json["risk_tier_confirmed"] is False


def test_nobody_on_the_team_past_or_present_classifies_and_each_is_told_why(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a principal who is developer and validator, on the team of a model, and a
    # validator who handed the model over
    admin = tenant.keys["admin"]
    both = api.post("/v1/principals", admin, {"name": "Dual", "roles": ["developer", "validator"]})
    issued = api.post("/v1/api-keys", admin, {"principal_id": both.json["id"], "name": "k"})
    dual = rotate(api, issued.json["secret"])
    model = new_model(api, tenant, developer_ids=[tenant.ids["developer"], both.json["id"]])
    handed = api.post("/v1/models", dual, {"name": "M", "purpose": "p", "risk_tier": 3}).json
    moved = api.patch(
        f"/v1/models/{handed['id']}",
        dual,
        {"owner_id": tenant.ids["developer"], "developer_ids": [tenant.ids["developer"]]},
        '"1"',
    )
    assert moved.status == 200, moved.json
    # WHEN each tries to classify
    on_team = classify(api, dual, model["id"], '"1"', 3)
    former = classify(api, dual, handed["id"], '"2"', 3)
    developer = classify(api, tenant.keys["developer"], model["id"], '"1"', 3)
    auditor = classify(api, tenant.keys["auditor"], model["id"], '"1"', 3)
    # THEN each is a 403 that says why
    assert on_team.status == 403 and "on the model's team" in on_team.json["detail"]
    assert former.status == 403 and "past_team_ids" in former.json["detail"]
    assert developer.status == 403 and "validator" in developer.json["detail"]
    assert auditor.status == 403
    # AND nothing changed
    assert api.get(f"/v1/models/{model['id']}", dual).json["revision"] == 1


def test_a_key_an_admin_issued_cannot_classify_until_its_principal_rotates_it(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a model, and the validator's key as the admin issued it
    model = new_model(api, tenant, risk_tier=2)
    issued = tenant.keys["validator"]
    # WHEN the validator classifies with it
    refused = classify(api, issued, model["id"], '"1"', 2)
    # THEN it is a 403 naming who issued the key and the route that makes it its own
    assert refused.status == 403, refused.json
    assert f"issued by principal {tenant.ids['admin']}" in refused.json["detail"]
    assert f"POST /v1/me/api-keys/{key_id_of(issued)}/rotate" in refused.json["detail"]
    assert api.get(f"/v1/models/{model['id']}", issued).json["revision"] == 1
    # AND once rotated, the new key classifies
    own_keys(api, tenant, "validator")
    assert classify(api, tenant.keys["validator"], model["id"], '"1"', 2).status == 200


def test_patch_no_longer_takes_a_risk_tier_or_scope_and_names_the_classification_route(
    api: Api, tenant: Tenant
) -> None:
    model = new_model(api, tenant)
    path = f"/v1/models/{model['id']}"
    for body in ({"risk_tier": 1}, {"regulatory_scope": ["sr-11-7"], "purpose": "p"}):
        answer = api.patch(path, tenant.keys["developer"], body, '"1"')
        assert answer.status == 400, answer.json
        assert "POST /v1/models/{model_id}/classification" in answer.json["detail"]
        field = next(e for e in answer.json["errors"] if "classification" in e["message"])
        assert field["field"] == f"body.{next(iter(body))}"
    assert api.get(path, tenant.keys["developer"]).json == model


def test_the_inventory_filters_on_the_tier_in_force(api: Api, tenant: Tenant) -> None:
    # GIVEN models proposed as tier 3 and 2, of which only one is confirmed (as 3)
    key = tenant.keys["auditor"]
    confirmed = new_model(api, tenant, name="confirmed", risk_tier=3)
    new_model(api, tenant, name="proposed", risk_tier=2)
    own_keys(api, tenant, "validator")
    assert classify(api, tenant.keys["validator"], confirmed["id"], '"1"', 3).status == 200

    def names(tier: int) -> set[str]:
        answer = api.get(f"/v1/models?risk_tier={tier}", key)
        assert answer.status == 200, answer.json
        return {m["name"] for m in answer.json["items"]}

    # THEN the unconfirmed one is listed as tier 1, the confirmed one as its own tier
    assert (names(1), names(2), names(3)) == ({"proposed"}, set(), {"confirmed"})
