"""The approval policy: every role reads it, an admin sets it as a new version with the ETag
last read, and bad policies are refused with the field that is wrong."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.domain.policy import DEFAULT_BODY
from tests.conftest import Api, Tenant
from tests.functional.route_fixtures import items_of


def body(**changes: Any) -> dict[str, Any]:
    found = copy.deepcopy(DEFAULT_BODY)
    found.update(changes)
    return found


def put(api: Api, tenant: Tenant, sent: dict[str, Any], etag: str) -> Any:
    return api.call("PUT", "/v1/policy", tenant.keys["admin"], sent, headers={"If-Match": etag})


def test_a_new_tenant_runs_on_the_default_policy_as_version_1(api: Api, tenant: Tenant) -> None:
    answer = api.get("/v1/policy", tenant.keys["auditor"])
    assert answer.status == 200 and answer.headers["etag"] == '"1"'
    policy = answer.json
    assert policy["version"] == 1 and policy["created_by"] is None
    tier_1 = policy["tiers"]["1"]
    assert [(s["name"], s["role"], s["quorum"]) for s in tier_1["stages"]] == [
        ("validation", "validator", 1),
        ("risk approval", "approver", 2),
    ]
    assert [(s["role"], s["quorum"]) for s in policy["tiers"]["2"]["stages"]] == [
        ("validator", 1),
        ("approver", 1),
    ]
    assert [(s["role"], s["quorum"]) for s in policy["tiers"]["3"]["stages"]] == [("approver", 1)]
    intervals = [policy["tiers"][t]["revalidation_interval_days"] for t in ("1", "2", "3")]
    assert intervals == [365, 730, 1095]
    assert [s["role"] for s in tier_1["revalidation_stages"]] == ["validator"]
    versions = api.get("/v1/policy/versions", tenant.keys["developer"]).json
    assert [v["version"] for v in versions["items"]] == [1]


def test_an_admin_sets_a_policy_as_a_new_version_and_the_old_one_stays(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN the defaults; WHEN an admin shortens tier 3's deadline and names a contact
    sent = body(escalation_contact_ids=[tenant.ids["approver2"]])
    sent["tiers"]["3"]["stages"][0]["deadline_seconds"] = 3600
    sent["required_model_card_fields_by_scope"] = {"eu-ai-act:high": ["ethical_considerations"]}
    answer = put(api, tenant, sent, '"1"')
    # THEN it is version 2, in force, with its ETag
    assert answer.status == 200, answer.json
    assert answer.headers["etag"] == '"2"'
    assert answer.json["version"] == 2 and answer.json["created_by"] == tenant.ids["admin"]
    current = api.get("/v1/policy", tenant.keys["validator"]).json
    assert current["tiers"]["3"]["stages"][0]["deadline_seconds"] == 3600
    assert current["escalation_contact_ids"] == [tenant.ids["approver2"]]
    # AND the history keeps the defaults as version 1, then version 2
    history = items_of(api, "/v1/policy/versions", tenant.keys["auditor"])
    assert [v["version"] for v in history] == [1, 2]
    assert history[0]["tiers"]["3"]["stages"][0]["deadline_seconds"] == 7 * 86400
    # AND the change is audited and announced
    events = items_of(api, "/v1/audit-events", tenant.keys["auditor"])
    updated = [e for e in events if e["action"] == "policy.updated"]
    assert len(updated) == 1 and updated[0]["after"]["version"] == 2


def test_a_policy_is_replaced_only_with_the_etag_of_the_version_in_force(
    api: Api, tenant: Tenant
) -> None:
    sent = body()
    sent["tiers"]["2"]["revalidation_interval_days"] = 400
    assert put(api, tenant, sent, '"1"').status == 200
    sent["tiers"]["2"]["revalidation_interval_days"] = 500
    stale = put(api, tenant, sent, '"1"')
    assert stale.status == 412, stale.json
    missing = api.call("PUT", "/v1/policy", tenant.keys["admin"], sent)
    assert missing.status == 428
    assert (
        api.get("/v1/policy", tenant.keys["admin"]).json["tiers"]["2"]["revalidation_interval_days"]
        == 400
    )


def test_setting_the_same_policy_again_makes_no_new_version(api: Api, tenant: Tenant) -> None:
    answer = put(api, tenant, body(), '"1"')
    assert answer.status == 200 and answer.json["version"] == 1
    assert [v["version"] for v in items_of(api, "/v1/policy/versions", tenant.keys["admin"])] == [1]


@pytest.mark.parametrize(
    "edit, status, field",
    [
        (
            lambda b: b["tiers"]["1"]["stages"].append(dict(b["tiers"]["1"]["stages"][0])),
            422,
            "body.tiers.1.stages[2].name",
        ),
        (
            lambda b: (
                b["tiers"]["2"]["stages"][0].update(
                    deadline_seconds=180 * 86400, escalation_seconds=180 * 86400
                )
                or b["tiers"]["2"]["stages"][1].update(deadline_seconds=10 * 86400)
            ),
            422,
            "body.tiers.2.stages",
        ),
        (lambda b: b["tiers"].pop("3"), 400, "body.tiers.3"),
        (
            lambda b: b["tiers"]["1"]["stages"][0].update(role="developer"),
            400,
            "body.tiers.1.stages.0.role",
        ),
        (
            lambda b: b["tiers"]["1"]["stages"][0].update(quorum=0),
            400,
            "body.tiers.1.stages.0.quorum",
        ),
        (lambda b: b["tiers"]["1"].update(stages=[]), 400, "body.tiers.1.stages"),
        (
            lambda b: b["tiers"]["1"].update(required_model_card_fields=["colour"]),
            400,
            "body.tiers.1.required_model_card_fields.0",
        ),
        (
            lambda b: b.update(escalation_contact_ids=["prn_" + "0" * 26]),
            422,
            "body.escalation_contact_ids[0]",
        ),
    ],
    ids=[
        "duplicate-stage",
        "longer-than-a-year",
        "tier-missing",
        "role",
        "quorum",
        "no-stages",
        "card-field",
        "unknown-contact",
    ],
)
def test_a_bad_policy_is_refused_naming_the_field_and_changes_nothing(
    api: Api, tenant: Tenant, edit: Any, status: int, field: str
) -> None:
    sent = body()
    edit(sent)
    answer = put(api, tenant, sent, '"1"')
    assert answer.status == status, answer.json
    assert field in [e["field"] for e in answer.json["errors"]], answer.json
    assert api.get("/v1/policy", tenant.keys["admin"]).json["version"] == 1


def test_only_an_admin_sets_the_policy(api: Api, tenant: Tenant) -> None:
    for role in ("developer", "validator", "approver", "auditor", "monitor"):
        answer = api.call(
            "PUT", "/v1/policy", tenant.keys[role], body(), headers={"If-Match": '"1"'}
        )
        assert answer.status == 403, (role, answer.json)


def test_each_tenant_has_its_own_policy(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    sent = body()
    sent["tiers"]["1"]["stages"][1]["quorum"] = 3
    assert put(api, tenant, sent, '"1"').status == 200
    theirs = api.get("/v1/policy", other_tenant.keys["auditor"]).json
    assert theirs["version"] == 1 and theirs["tiers"]["1"]["stages"][1]["quorum"] == 2
    # A contact from another tenant is answered as one that does not exist.
    foreign = body(escalation_contact_ids=[tenant.ids["approver"]])
    refused = put(api, other_tenant, foreign, '"1"')
    assert refused.status == 422
    assert refused.json["errors"][0]["field"] == "body.escalation_contact_ids[0]"


def test_the_policy_read_is_a_body_to_send_back_once_its_version_fields_are_dropped(
    api: Api, tenant: Tenant
) -> None:
    read = api.get("/v1/policy", tenant.keys["admin"])
    sent = {k: v for k, v in read.json.items() if k not in ("version", "created_by", "created_at")}
    sent["tiers"]["1"]["stages"][0]["quorum"] = 2
    answer = put(api, tenant, sent, read.headers["etag"])
    assert answer.status == 200, answer.json
    assert answer.json["tiers"]["1"]["stages"][0]["quorum"] == 2


# --- what compliance scans hold versions to ------------------------------------------

THRESHOLDS = [
    {"metric": "auc", "comparison": "lt", "threshold": 0.7, "severity": "high", "tiers": [2, 1]},
    {
        "metric": "psi",
        "comparison": "gt",
        "threshold": 0.25,
        "severity": "medium",
        "segment": "region:emea",
    },
    {
        "metric": "auc",
        "comparison": "lt",
        "threshold": 0.6,
        "severity": "critical",
        "model_id": "mdl_01JDQ4ZK3W9V7Y5T2R8N6M4P2B",
    },
]


def test_the_defaults_hold_no_thresholds_and_the_default_staleness_due_days_and_retention(
    api: Api, tenant: Tenant
) -> None:
    policy = api.get("/v1/policy", tenant.keys["monitor"]).json
    assert policy["metric_thresholds"] == []
    assert policy["metrics_stale_after_days"] == 30
    assert policy["finding_due_days"] == {"critical": 7, "high": 30, "medium": 90, "low": 180}
    assert policy["metric_retention_days"] == 400


def test_thresholds_staleness_due_days_and_retention_are_set_and_read_back(
    api: Api, tenant: Tenant
) -> None:
    sent = body(
        metric_thresholds=THRESHOLDS,
        metrics_stale_after_days=7,
        finding_due_days={"critical": 3, "high": 14, "medium": 60, "low": 120},
        metric_retention_days=90,
    )
    answer = put(api, tenant, sent, '"1"')
    assert answer.status == 200, answer.json
    read = api.get("/v1/policy", tenant.keys["validator"]).json
    assert read["version"] == 2
    assert read["metric_thresholds"][0] == {
        **THRESHOLDS[0],
        "tiers": [1, 2],
        "model_id": None,
        "segment": None,
    }
    assert read["metric_thresholds"][1]["segment"] == "region:emea"
    assert read["metric_thresholds"][1]["tiers"] == []
    assert read["metric_thresholds"][2]["model_id"] == THRESHOLDS[2]["model_id"]
    assert read["metrics_stale_after_days"] == 7
    assert read["finding_due_days"] == {"critical": 3, "high": 14, "medium": 60, "low": 120}
    assert read["metric_retention_days"] == 90
    # AND a partial due-days object takes the defaults for the severities it leaves out
    again = put(api, tenant, body(finding_due_days={"critical": 1}), '"2"')
    assert again.status == 200, again.json
    assert again.json["finding_due_days"] == {"critical": 1, "high": 30, "medium": 90, "low": 180}
    assert again.json["metric_thresholds"] == []


def test_a_policy_stored_before_the_metric_settings_reads_back_with_the_defaults(
    api: Api, tenant: Tenant
) -> None:
    from chalicelib.domain.policy import default_policy
    from chalicelib.store import dynamo
    from chalicelib.store.keys import TenantKeys

    # GIVEN a version 2 written as the policy was stored before these settings existed
    old = default_policy().model_dump(mode="json")
    for name in (
        "metric_thresholds",
        "metrics_stale_after_days",
        "finding_due_days",
        "metric_retention_days",
    ):
        old.pop(name)
    old.update(version=2, created_by=tenant.ids["admin"], created_at="2026-01-01T00:00:00.000Z")
    keys = TenantKeys(tenant.id)
    for key in (keys.policy_current(), keys.policy_version(2)):
        dynamo.transact([dynamo.put_op({**key, "tenant_id": tenant.id, **old})])
    # THEN it reads back, in force and in the history, with the defaults
    for read in (
        api.get("/v1/policy", tenant.keys["auditor"]).json,
        items_of(api, "/v1/policy/versions", tenant.keys["auditor"])[-1],
    ):
        assert read["version"] == 2
        assert read["metric_thresholds"] == [] and read["metric_retention_days"] == 400
        assert read["metrics_stale_after_days"] == 30
        assert read["finding_due_days"]["high"] == 30
    # AND sending the same back with the defaults spelled out changes nothing
    same = put(api, tenant, body(), '"2"')
    assert same.status == 200 and same.json["version"] == 2


def _threshold(**changes: Any) -> dict[str, Any]:
    return {**THRESHOLDS[0], **changes}


@pytest.mark.parametrize(
    "sent, status, field",
    [
        (
            '{"metric": "auc", "comparison": "lt", "threshold": NaN, "severity": "high"}',
            400,
            "body.metric_thresholds.0.threshold",
        ),
        (
            '{"metric": "auc", "comparison": "lt", "threshold": Infinity, "severity": "high"}',
            400,
            "body.metric_thresholds.0.threshold",
        ),
        (_threshold(comparison="below"), 400, "body.metric_thresholds.0.comparison"),
        (_threshold(severity="urgent"), 400, "body.metric_thresholds.0.severity"),
        (_threshold(tiers=[4]), 400, "body.metric_thresholds.0.tiers.0"),
        (_threshold(model_id="model-7"), 400, "body.metric_thresholds.0.model_id"),
        (_threshold(metric="AUC"), 400, "body.metric_thresholds.0.metric"),
        (_threshold(segment="EU West"), 400, "body.metric_thresholds.0.segment"),
        (_threshold(unit="ratio"), 400, "body.metric_thresholds.0.unit"),
        (
            [_threshold(), _threshold(tiers=[1, 2, 2], threshold=0.5)],
            422,
            "body.metric_thresholds[1]",
        ),
    ],
    ids=[
        "nan",
        "infinity",
        "comparison",
        "severity",
        "tier",
        "model-id",
        "metric-name",
        "segment",
        "unknown-field",
        "duplicate",
    ],
)
def test_a_bad_threshold_is_refused_naming_the_field_and_changes_nothing(
    api: Api, tenant: Tenant, sent: Any, status: int, field: str
) -> None:
    import json

    thresholds = sent if isinstance(sent, list) else [sent]
    text = json.dumps(body(metric_thresholds=["@"]))
    items = ", ".join(t if isinstance(t, str) else json.dumps(t) for t in thresholds)
    raw = text.replace('["@"]', f"[{items}]")
    answer = api.call(
        "PUT",
        "/v1/policy",
        tenant.keys["admin"],
        raw=raw,
        headers={"If-Match": '"1"', "Content-Type": "application/json"},
    )
    assert answer.status == status, answer.json
    assert field in [e["field"] for e in answer.json["errors"]], answer.json
    assert api.get("/v1/policy", tenant.keys["admin"]).json["version"] == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"metrics_stale_after_days": 0}, "body.metrics_stale_after_days"),
        ({"metrics_stale_after_days": 366}, "body.metrics_stale_after_days"),
        ({"metric_retention_days": 29}, "body.metric_retention_days"),
        ({"metric_retention_days": 3651}, "body.metric_retention_days"),
        ({"finding_due_days": {"high": 0}}, "body.finding_due_days.high"),
        ({"finding_due_days": {"urgent": 3}}, "body.finding_due_days.urgent"),
        ({"metric_thresholds": [_threshold()] * 101}, "body.metric_thresholds"),
    ],
)
def test_out_of_range_metric_settings_are_refused_naming_the_field(
    api: Api, tenant: Tenant, change: dict[str, Any], field: str
) -> None:
    answer = put(api, tenant, body(**change), '"1"')
    assert answer.status == 400, answer.json
    assert field in [e["field"] for e in answer.json["errors"]], answer.json
