"""Examiner reports: the compliance summary and the SR 11-7 inventory, now and as of a
past moment, over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Api, Tenant, new_model
from tests.functional.report_world import approve, deploy, end, seeded, version
from tests.functional.route_fixtures import TENANT_ROLES, items_of


def test_the_compliance_report_counts_the_tenants_models_by_tier_in_force_and_status(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    # GIVEN a seeded tenant, and another tenant's model beside it
    seeded(api, tenant)
    new_model(api, other_tenant)
    # WHEN any role of the tenant asks for the compliance report
    for role in TENANT_ROLES:
        answer = api.get("/v1/reports/compliance", tenant.keys[role])
        assert answer.status == 200, answer.json
        # THEN it counts the tenant's own models, an unconfirmed tier as tier 1
        models = answer.json["models"]
        assert models["total"] == 3
        assert models["by_risk_tier"] == {"1": 1, "2": 1, "3": 1}
        assert models["by_status"] == {
            "in_development": 1,
            "approved": 1,
            "in_production": 1,
            "retired": 0,
        }
        assert answer.json["generated_at"].startswith(str(datetime.now(UTC).year))
        # AND its findings by status, the open ones by severity and by rule
        findings = answer.json["findings"]
        assert findings["total"] == 4
        assert findings["by_status"] == {"open": 2, "resolved": 1, "accepted": 1}
        assert findings["open_by_severity"] == {"critical": 0, "high": 1, "medium": 0, "low": 1}
        assert findings["open_by_rule"] == {"manual": 1, "revalidation.overdue": 1}


def test_the_inventory_row_shows_the_sr_11_7_fields_of_each_model(api: Api, tenant: Tenant) -> None:
    # GIVEN a seeded tenant
    world = seeded(api, tenant)
    # WHEN an auditor reads the inventory
    rows = {r["name"]: r for r in items_of(api, "/v1/reports/inventory", tenant.keys["auditor"])}
    # THEN each model has its row, with its team, validators, validation dates and production
    assert sorted(rows) == ["EAD", "LGD", "PD"]
    pd = rows["PD"]
    assert pd["id"] == world["pd"]["id"]
    assert (pd["purpose"], pd["intended_use"], pd["business_unit"]) == (
        "Probability of default",
        "Retail credit",
        "Retail",
    )
    assert pd["risk_tier"] == 1 and pd["status"] == "in_production"
    developer = tenant.ids["developer"]
    assert pd["owner"]["id"] == developer and [d["id"] for d in pd["developers"]] == [developer]
    assert pd["owner"]["name"]
    validators = [tenant.ids["validator"], tenant.ids["validator2"]]
    assert [v["id"] for v in pd["validators"]] == validators
    assert all(v["name"] for v in pd["validators"])
    assert pd["approved_version"] == 1 and pd["last_validated_at"]
    assert pd["next_validation_due_at"] == "2027-12-01T00:00:00Z"
    assert pd["production_versions"] == [1]
    assert pd["open_findings"] == {"critical": 0, "high": 1, "medium": 0, "low": 1}
    assert pd["accepted_exceptions"] == 1
    [deployment] = pd["production_deployments"]
    assert deployment["deployment_id"] == world["deployment"]["id"]
    assert deployment["target"] == "sagemaker:pd-prod" and deployment["until"] is None
    ead, lgd = rows["EAD"], rows["LGD"]
    assert ead["approved_version"] == 2 and ead["version_count"] == 2
    assert [v["id"] for v in ead["validators"]] == [tenant.ids["validator"]]
    assert ead["production_versions"] == [] and ead["status"] == "approved"
    assert lgd["approved_version"] is None and lgd["validators"] == []
    assert lgd["last_validated_at"] is None and lgd["risk_tier"] == 3
    assert lgd["open_findings"] == {"critical": 0, "high": 0, "medium": 0, "low": 0}
    assert lgd["accepted_exceptions"] == 0  # its resolved finding counts nowhere


def test_the_inventory_pages_with_signed_cursors_bound_to_the_tenant(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    # GIVEN five models
    made = sorted(new_model(api, tenant, name=f"M{i}")["id"] for i in range(5))
    # WHEN the inventory is read two at a time
    first = api.get("/v1/reports/inventory?limit=2", tenant.keys["monitor"])
    assert first.status == 200 and len(first.json["items"]) == 2
    # THEN following the cursors reads every model once, by id
    assert [r["id"] for r in items_of(api, "/v1/reports/inventory", tenant.keys["monitor"])] == made
    # AND another tenant cannot continue the tenant's cursor
    cursor = first.json["next_cursor"]
    theirs = api.get(f"/v1/reports/inventory?cursor={cursor}", other_tenant.keys["auditor"])
    assert theirs.status == 400 and theirs.json["errors"][0]["field"] == "query.cursor"


def test_the_inventory_as_of_a_date_answers_what_ran_in_production_then(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a version deployed to production and ended, another deployed after that
    validators = [tenant.ids["validator"]]
    old = new_model(api, tenant, name="Old")
    new = new_model(api, tenant, name="New")
    for model in (old, new):
        version(api, tenant, model["id"])
        approve(tenant, model["id"], 1, validators, [tenant.ids["approver"]])
    ran = end(api, tenant, deploy(api, tenant, old["id"], 1, "blue"))
    between = ran["until"]
    later = deploy(api, tenant, new["id"], 1, "green")
    moment = datetime.fromisoformat(ran["since"]) + timedelta(microseconds=1000)

    def names(as_of: str) -> dict[str, list[int]]:
        answer = api.get(f"/v1/reports/inventory?as_of={as_of}", tenant.keys["validator"])
        assert answer.status == 200, answer.json
        return {r["name"]: r["production_versions"] for r in answer.json["items"]}

    # THEN while the first ran, it alone is in the inventory as of then, with its version
    assert names(moment.isoformat().replace("+00:00", "Z")) == {"Old": [1]}
    # AND from the moment it ended, only the later one
    assert names(between) == {}
    assert names(later["since"]) == {"New": [1]}
    # AND a date is the end of that day: both runs fell on today, the later still runs
    today = datetime.now(UTC).date().isoformat()
    assert names(today) == {"New": [1]}
    assert names("2001-01-01") == {}
    # AND the row keeps the deployment that ran then, with its end
    answer = api.get(f"/v1/reports/inventory?as_of={ran['since']}", tenant.keys["auditor"])
    [row] = answer.json["items"]
    assert row["production_deployments"][0]["until"] == ran["until"]
    assert answer.json["as_of"] == ran["since"]


@pytest.mark.parametrize(
    "as_of",
    ["yesterday", "2026-13-01", "2026-02-30", "2026-03-31T10:00:00", "2026-03-31T25:00:00Z", "1"],
)
def test_a_bad_as_of_is_a_400_naming_the_parameter(api: Api, tenant: Tenant, as_of: str) -> None:
    answer = api.get(f"/v1/reports/inventory?as_of={as_of}", tenant.keys["auditor"])
    assert answer.status == 400, answer.json
    assert answer.json["errors"][0]["field"] == "query.as_of"


@pytest.mark.parametrize(
    "as_of", ["2026-03-31T23:59:60Z", "2026-03-31t10:00:00.123456789z", "0001-01-01T00:00:00+01:00"]
)
def test_every_rfc_3339_time_is_a_moment_of_the_inventory(
    api: Api, tenant: Tenant, as_of: str
) -> None:
    moment = as_of.replace("+", "%2B")  # a + in a query string is a space
    answer = api.get(f"/v1/reports/inventory?as_of={moment}", tenant.keys["auditor"])
    assert answer.status == 200, answer.json
    assert answer.json["items"] == []


def test_an_as_of_cursor_does_not_continue_another_moment(api: Api, tenant: Tenant) -> None:
    # GIVEN three models in production
    for name in ("A", "B", "C"):
        model = new_model(api, tenant, name=name)
        version(api, tenant, model["id"])
        approve(tenant, model["id"], 1, [tenant.ids["validator"]], [tenant.ids["approver"]])
        deploy(api, tenant, model["id"], 1, f"{name}-prod")
    today = datetime.now(UTC).date().isoformat()
    path = f"/v1/reports/inventory?as_of={today}"
    # WHEN read a page of one at a time
    assert len(items_of(api, path, tenant.keys["auditor"])) == 3
    first = api.get(f"{path}&limit=1", tenant.keys["auditor"])
    # THEN its cursor is refused for the inventory now
    cursor = first.json["next_cursor"]
    assert cursor
    refused = api.get(f"/v1/reports/inventory?cursor={cursor}", tenant.keys["auditor"])
    assert refused.status == 400
