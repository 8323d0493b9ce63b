"""Deployments and retirement over the API, short of production (which needs an approval:
tests/workflow/test_deployments.py): recording, ending, the history by time, retiring, and
the model's derived status; bad input answered with problem+json."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import Api, Tenant, new_model
from tests.functional.route_fixtures import items_of

STAGING = {"environment": "staging", "target": "k8s://risk-staging/pd"}


def version_of(api: Api, tenant: Tenant, **model: Any) -> str:
    """The path of version 1 (a draft) of a new model of the tenant's developer."""
    found = new_model(api, tenant, **model)
    made = api.post(f"/v1/models/{found['id']}/versions", tenant.keys["developer"], {})
    assert made.status == 201, made.json
    return f"/v1/models/{found['id']}/versions/1"


def model_of(version: str) -> str:
    return version.split("/versions/")[0]


def actions(api: Api, tenant: Tenant) -> list[str]:
    return [e["action"] for e in items_of(api, "/v1/audit-events", tenant.keys["auditor"])]


def test_a_draft_deployed_to_staging_is_recorded_open_and_leaves_the_model_in_development(
    api: Api, tenant: Tenant
) -> None:
    version = version_of(api, tenant)
    # WHEN the team records that the draft runs in staging
    answer = api.post(f"{version}/deployments", tenant.keys["developer"], STAGING)
    # THEN it is open from now, at its target, and readable where Location says
    assert answer.status == 201, answer.json
    deployment = answer.json
    assert deployment["id"].startswith("dep_")
    assert (deployment["environment"], deployment["target"]) == ("staging", STAGING["target"])
    assert deployment["until"] is None and deployment["since"]
    assert deployment["deployed_by"] == tenant.ids["developer"]
    assert answer.headers["location"] == f"{version}/deployments/{deployment['id']}"
    read = api.get(answer.headers["location"], tenant.keys["auditor"])
    assert read.status == 200 and read.json == deployment
    listed = api.get(f"{version}/deployments", tenant.keys["auditor"])
    assert [d["id"] for d in listed.json["items"]] == [deployment["id"]]
    # AND the model is still in development (only production changes that), and the change
    # was audited
    assert api.get(model_of(version), tenant.keys["auditor"]).json["status"] == "in_development"
    assert actions(api, tenant).count("version.deployed") == 1


def test_a_version_runs_once_at_a_target_until_that_deployment_ends(
    api: Api, tenant: Tenant
) -> None:
    version = version_of(api, tenant)
    key = tenant.keys["developer"]
    first = api.post(f"{version}/deployments", key, STAGING)
    assert first.status == 201, first.json
    # WHEN the same version is recorded again at the same environment and target
    again = api.post(f"{version}/deployments", key, STAGING)
    # THEN 409 names the deployment holding it; another target or environment is fine
    assert again.status == 409, again.json
    assert first.json["id"] in again.json["detail"]
    assert [e["field"] for e in again.json["errors"]] == ["body.target"]
    elsewhere = {**STAGING, "environment": "development"}
    assert api.post(f"{version}/deployments", key, elsewhere).status == 201
    # AND once the first ends, the target takes the version again
    assert api.call("DELETE", first.headers["location"], key).status == 204
    assert api.post(f"{version}/deployments", key, STAGING).status == 201


def test_production_refuses_a_version_that_is_not_approved_and_stores_nothing(
    api: Api, tenant: Tenant
) -> None:
    version = version_of(api, tenant)
    body = {"environment": "production", "target": "sagemaker:endpoint/pd"}
    answer = api.post(f"{version}/deployments", tenant.keys["developer"], body)
    assert answer.status == 409, answer.json
    assert answer.headers["content-type"] == "application/problem+json"
    assert "draft" in answer.json["detail"] and "approved" in answer.json["detail"]
    assert api.get(f"{version}/deployments", tenant.keys["auditor"]).json["items"] == []
    assert "version.deployed" not in actions(api, tenant)


def test_ending_a_deployment_sets_until_keeps_it_in_history_and_a_second_end_changes_nothing(
    api: Api, tenant: Tenant
) -> None:
    version = version_of(api, tenant)
    made = api.post(f"{version}/deployments", tenant.keys["developer"], STAGING)
    path = made.headers["location"]
    # WHEN the team ends it, twice
    first = api.call("DELETE", path, tenant.keys["developer"])
    ended = api.get(path, tenant.keys["auditor"]).json
    second = api.call("DELETE", path, tenant.keys["developer"])
    # THEN both answer 204; it ended once, at the first, and is still there
    assert (first.status, second.status) == (204, 204), (first.json, second.json)
    assert ended["until"] and ended["ended_by"] == tenant.ids["developer"]
    assert api.get(path, tenant.keys["auditor"]).json == ended
    assert actions(api, tenant).count("version.undeployed") == 1
    # AND the history lists it as ended, not open
    open_now = api.get(f"{version}/deployments?open=true", tenant.keys["auditor"]).json
    closed = api.get(f"{version}/deployments?open=false", tenant.keys["auditor"]).json
    assert open_now["items"] == [] and [d["id"] for d in closed["items"]] == [ended["id"]]


def test_the_history_answers_what_ran_at_a_given_time(api: Api, tenant: Tenant) -> None:
    version = version_of(api, tenant)
    key = tenant.keys["developer"]
    # GIVEN a staging deployment that ran and ended, then a development one still open
    first = api.post(f"{version}/deployments", key, STAGING)
    time.sleep(0.01)
    assert api.call("DELETE", first.headers["location"], key).status == 204
    time.sleep(0.01)
    dev = {"environment": "development", "target": "laptop-7"}
    second = api.post(f"{version}/deployments", key, dev).json
    ended = api.get(first.headers["location"], tenant.keys["auditor"]).json

    def at(moment: str, extra: str = "") -> list[str]:
        query = f"{version}/deployments?at={moment}{extra}"
        answer = api.get(query.replace("+", "%2B"), tenant.keys["auditor"])
        assert answer.status == 200, answer.json
        return [d["id"] for d in answer.json["items"]]

    # THEN at the first one's start only it ran; at its end (valid-until is exclusive) and
    # after, only the second; before both, nothing
    assert at(ended["since"]) == [ended["id"]]
    assert at(ended["until"]) == []
    assert at(second["since"]) == [second["id"]]
    assert at("2099-01-01T00:00:00+01:00") == [second["id"]]
    assert at("2000-01-01T00:00:00Z") == []
    # AND filters combine: the second was not in staging
    assert at(second["since"], "&environment=staging") == []
    assert at(second["since"], "&environment=development") == [second["id"]]


@pytest.mark.parametrize(
    "moment",
    [
        "2016-12-31T23:59:60Z",  # a leap second
        "0001-01-01T00:00:00+23:59",  # before year 1 in UTC
        "9999-12-31T23:59:59-23:59",  # after year 9999 in UTC
        "2026-01-31 12:00:00.123456789z",  # a space, lower case, nanoseconds
    ],
)
def test_every_rfc_3339_time_is_a_moment_of_the_history(
    api: Api, tenant: Tenant, moment: str
) -> None:
    version = version_of(api, tenant)
    query = moment.replace("+", "%2B").replace(" ", "%20")
    answer = api.get(f"{version}/deployments?at={query}", tenant.keys["auditor"])
    assert answer.status == 200, answer.json
    assert answer.json["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("at=yesterday", "query.at"),
        ("at=2026-01-31T12:00:00", "query.at"),  # no offset: not RFC 3339
        ("at=2026-02-30T12:00:00Z", "query.at"),
        ("environment=prod", "query.environment"),
        ("open=yes", "query.open"),
        ("since=2026-01-01T00:00:00Z", "query.since"),
    ],
)
def test_a_bad_history_query_is_a_400_naming_the_parameter(
    api: Api, tenant: Tenant, query: str, field: str
) -> None:
    version = version_of(api, tenant)
    answer = api.get(f"{version}/deployments?{query}", tenant.keys["auditor"])
    assert answer.status == 400, answer.json
    assert [e["field"] for e in answer.json["errors"]] == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"environment": "prod", "target": "x"}, "body.environment"),
        ({"environment": "staging"}, "body.target"),
        ({"environment": "staging", "target": ""}, "body.target"),
        ({"environment": "staging", "target": " padded"}, "body.target"),
        ({"environment": "staging", "target": "a\nb"}, "body.target"),
        ({"environment": "staging", "target": "x" * 257}, "body.target"),
        ({**STAGING, "since": "2026-01-01T00:00:00Z"}, "body.since"),
        ({**STAGING, "notes": 5}, "body.notes"),
    ],
)
def test_a_bad_deployment_is_a_400_naming_the_field_and_records_nothing(
    api: Api, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    version = version_of(api, tenant)
    answer = api.post(f"{version}/deployments", tenant.keys["developer"], body)
    assert answer.status == 400, answer.json
    assert field in [e["field"] for e in answer.json["errors"]]
    assert api.get(f"{version}/deployments", tenant.keys["auditor"]).json["items"] == []


def test_deployments_that_do_not_exist_are_404_in_every_position(api: Api, tenant: Tenant) -> None:
    version = version_of(api, tenant)
    model = model_of(version)
    missing = [
        f"{version}/deployments/dep_00000000000000000000000000",
        f"{version}/deployments/not-an-id",
        f"{model}/versions/2/deployments",
        f"{model}/versions/0/deployments",
        "/v1/models/mdl_00000000000000000000000000/versions/1/deployments",
    ]
    for path in missing:
        answer = api.get(path, tenant.keys["auditor"])
        assert answer.status == 404, (path, answer.json)
    ended = api.call("DELETE", missing[0], tenant.keys["developer"])
    assert ended.status == 404, ended.json
    posted = api.post(f"{model}/versions/2/deployments", tenant.keys["developer"], STAGING)
    assert posted.status == 404, posted.json


def test_only_the_team_monitors_and_admins_record_deployments(api: Api, tenant: Tenant) -> None:
    # GIVEN a model of developer2's alone: the tenant's developer is not on its team
    mine = tenant.ids["developer2"]
    found = new_model(api, tenant, owner_id=mine, developer_ids=[mine])
    assert tenant.ids["developer"] not in (found["owner_id"], *found["developer_ids"])
    assert api.post(f"/v1/models/{found['id']}/versions", tenant.keys["developer2"], {}).json
    version = f"/v1/models/{found['id']}/versions/1"
    # THEN a developer off the team is refused, the monitor and the admin are not
    refused = api.post(f"{version}/deployments", tenant.keys["developer"], STAGING)
    assert refused.status == 403, refused.json
    for who in ("monitor", "admin", "developer2"):
        body = {**STAGING, "target": f"recorded-by-{who}"}
        answer = api.post(f"{version}/deployments", tenant.keys[who], body)
        assert answer.status == 201, (who, answer.json)
    # AND only the team or an admin retires it: not the monitor, nor a developer off the team
    for who in ("monitor", "developer"):
        assert api.post(f"{version}/retire", tenant.keys[who]).status == 403, who


def test_retiring_the_only_version_retires_the_model_and_closes_it_to_new_work(
    api: Api, tenant: Tenant
) -> None:
    version = version_of(api, tenant)
    model = model_of(version)
    developer = tenant.keys["developer"]
    # WHEN the team retires the draft
    answer = api.post(f"{version}/retire", developer)
    # THEN the version is retired, by whom and when, and so is the model (every version is)
    assert answer.status == 200, answer.json
    assert answer.json["status"] == "retired" and answer.json["retired_at"]
    assert answer.json["retired_by"] == tenant.ids["developer"]
    assert answer.headers["etag"] == f'"{answer.json["revision"]}"'
    read = api.get(model, tenant.keys["auditor"]).json
    assert (read["status"], read["retired_versions"]) == ("retired", 1)
    events = items_of(api, "/v1/audit-events", tenant.keys["auditor"])
    [retired] = [e for e in events if e["action"] == "version.retired"]
    assert retired["before"] == {"status": "draft", "model_status": "in_development"}
    assert retired["after"]["status"] == retired["after"]["model_status"] == "retired"
    # AND it takes no deployment, no new version, and retiring it again is a 409
    for refused in (
        api.post(f"{version}/deployments", developer, STAGING),
        api.post(f"{model}/versions", developer, {}),
        api.post(f"{version}/retire", developer),
    ):
        assert refused.status == 409, refused.json
    listed = api.get("/v1/models?status=retired", tenant.keys["auditor"]).json
    assert [m["id"] for m in listed["items"]] == [read["id"]]


def test_a_model_with_an_unretired_version_is_not_retired(api: Api, tenant: Tenant) -> None:
    version = version_of(api, tenant)
    model = model_of(version)
    assert api.post(f"{model}/versions", tenant.keys["developer"], {}).status == 201
    assert api.post(f"{version}/retire", tenant.keys["admin"]).status == 200
    read = api.get(model, tenant.keys["auditor"]).json
    assert (read["status"], read["retired_versions"], read["version_count"]) == (
        "in_development",
        1,
        2,
    )
    assert api.get("/v1/models?status=retired", tenant.keys["auditor"]).json["items"] == []


def test_a_submitted_version_is_not_retired_until_its_request_is_withdrawn(
    api: Api, tenant: Tenant
) -> None:
    found = new_model(api, tenant, risk_tier=3)
    path = f"/v1/models/{found['id']}/versions"
    card = {"intended_use": "Retail credit", "metrics": "AUC 0.8"}
    assert api.post(path, tenant.keys["developer"], {"model_card": card}).status == 201
    submitted = api.post(f"{path}/1/approval-requests", tenant.keys["developer"], {})
    assert submitted.status == 201, submitted.json
    answer = api.post(f"{path}/1/retire", tenant.keys["developer"])
    assert answer.status == 409, answer.json
    assert "submitted" in answer.json["detail"]
    assert api.get(f"{path}/1", tenant.keys["auditor"]).json["status"] == "submitted"


def test_the_inventory_by_status_pages_through_its_own_partition(api: Api, tenant: Tenant) -> None:
    # GIVEN three models in development and two retired
    made = [model_of(version_of(api, tenant, name=f"Model {n}")) for n in range(5)]
    for model in made[:2]:
        assert api.post(f"{model}/versions/1/retire", tenant.keys["developer"]).status == 200

    # WHEN the auditor pages through each status two at a time
    def ids(status: str) -> list[str]:
        found, cursor = [], ""
        for _ in range(10):
            page = api.get(f"/v1/models?status={status}&limit=2{cursor}", tenant.keys["auditor"])
            assert page.status == 200, page.json
            found += [m["id"] for m in page.json["items"]]
            if not page.json["next_cursor"]:
                return found
            cursor = f"&cursor={page.json['next_cursor']}"
        raise AssertionError("more than 10 pages")

    # THEN each lists exactly its own, in the order of the whole inventory
    whole = [m["id"] for m in items_of(api, "/v1/models", tenant.keys["auditor"])]
    expected = [m.rsplit("/", 1)[1] for m in made]
    assert ids("retired") == [i for i in whole if i in expected[:2]]
    assert ids("in_development") == [i for i in whole if i in expected[2:]]
    assert ids("in_production") == [] and ids("approved") == []
    # AND other filters combine with it
    tagged = api.get("/v1/models?status=retired&risk_tier=3", tenant.keys["auditor"]).json
    assert tagged["items"] == []
