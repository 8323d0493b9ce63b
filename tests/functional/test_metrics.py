"""Metrics of a version: monitors and the model's team report data points, every role reads
them back by name and time, a retried batch changes nothing, the version's summary keeps
the newest point of each series, and bad input is refused with the field and stores
nothing."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.policy import DEFAULT_BODY
from chalicelib.store.keys import TenantKeys
from chalicelib.store.scope import for_tenant
from tests.conftest import Api, Tenant, new_model
from tests.functional.route_fixtures import items_of

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def now_is_now() -> None:
    """Times are relative to each test's start, not the module's import: under a loaded
    run a test may start minutes after collection, and "6 minutes ahead" must stay ahead."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def point(
    name: str, value: float, minutes_ago: float, segment: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "value": value, "observed_at": at(minutes_ago)}
    if segment is not None:
        found["segment"] = segment
    return found


@pytest.fixture
def version(api: Api, tenant: Tenant) -> str:
    """The path of version 1 of a model the tenant's developer owns."""
    model = new_model(api, tenant)
    made = api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
    assert made.status == 201, made.json
    return f"/v1/models/{model['id']}/versions/1"


def report(api: Api, key: str, path: str, *points: dict[str, Any]) -> Any:
    return api.post(f"{path}/metrics", key, {"points": list(points)})


def stored(api: Api, tenant: Tenant, path: str, query: str = "") -> list[dict[str, Any]]:
    return items_of(api, f"{path}/metrics{query}", tenant.keys["auditor"])


def summary(tenant: Tenant, path: str) -> Any:
    model_id, number = path.split("/")[3], int(path.split("/")[5])
    return for_tenant(tenant.id).metrics.latest_many([(model_id, number)])[(model_id, number)]


def test_a_monitor_reports_points_and_every_role_reads_them_back_by_name_and_time(
    api: Api, tenant: Tenant, version: str
) -> None:
    # WHEN a monitor reports AUC and PSI points, in no particular order
    answer = report(
        api,
        tenant.keys["monitor"],
        version,
        point("psi", 0.1, 30, "region:emea"),
        point("auc", 0.8, 60),
        point("auc", 0.75, 10),
        point("auc", 0.78, 30),
        point("psi", 0.2, 30, "region:us"),
    )
    # THEN all five are stored
    assert answer.status == 200, answer.json
    assert answer.json["stored"] == 5
    assert answer.json["last_observed_at"] == at(10)
    # AND one name reads back oldest first
    auc = stored(api, tenant, version, "?name=auc")
    assert [p["value"] for p in auc] == [0.8, 0.78, 0.75]
    assert all(p["reported_by"] == tenant.ids["monitor"] for p in auc)
    # AND a time range (from included, to not) narrows it
    ranged = stored(api, tenant, version, f"?name=auc&from={at(30)}&to={at(10)}")
    assert [p["value"] for p in ranged] == [0.78]
    # AND without a name, every name in name then time order
    every = stored(api, tenant, version)
    assert [(p["name"], p["value"]) for p in every] == [
        ("auc", 0.8),
        ("auc", 0.78),
        ("auc", 0.75),
        ("psi", 0.1),
        ("psi", 0.2),
    ]
    # AND one segment, and a range across names
    emea = stored(api, tenant, version, "?segment=region:emea")
    assert [(p["name"], p["segment"]) for p in emea] == [("psi", "region:emea")]
    recent = stored(api, tenant, version, f"?from={at(30)}")
    assert [p["value"] for p in recent] == [0.78, 0.75, 0.1, 0.2]
    for role in ("developer", "validator", "approver", "admin", "monitor"):
        assert api.get(f"{version}/metrics", tenant.keys[role]).status == 200, role


def test_a_value_too_small_for_dynamodb_is_kept_as_zero_and_large_ones_as_they_are(
    api: Api, tenant: Tenant, version: str
) -> None:
    sent = [point("p.value", 1e-200, 3), point("p.value", -9.8e125, 2), point("p.value", 5, 1)]
    assert report(api, tenant.keys["monitor"], version, *sent).status == 200
    assert [p["value"] for p in stored(api, tenant, version)] == [0, -9.8e125, 5]


def test_points_are_read_a_page_at_a_time_with_a_cursor(
    api: Api, tenant: Tenant, version: str
) -> None:
    points = [point("latency.p99", float(n), 50 - n) for n in range(7)]
    assert report(api, tenant.keys["monitor"], version, *points).status == 200
    first = api.get(f"{version}/metrics?name=latency.p99&limit=3", tenant.keys["auditor"])
    assert first.status == 200 and [p["value"] for p in first.json["items"]] == [0, 1, 2]
    cursor = first.json["next_cursor"]
    second = api.get(
        f"{version}/metrics?name=latency.p99&limit=3&cursor={cursor}", tenant.keys["auditor"]
    )
    assert [p["value"] for p in second.json["items"]] == [3, 4, 5]
    # A cursor belongs to its query: another name's is a 400.
    foreign = api.get(f"{version}/metrics?name=auc&cursor={cursor}", tenant.keys["auditor"])
    assert foreign.status == 400, foreign.json


def test_a_retried_batch_stores_nothing_twice_and_a_repeated_point_replaces_its_value(
    api: Api, tenant: Tenant, version: str
) -> None:
    batch = [point("auc", 0.8, 20), point("auc", 0.7, 10, "region:emea")]
    assert report(api, tenant.keys["monitor"], version, *batch).status == 200
    again = report(api, tenant.keys["monitor"], version, *batch)
    assert again.status == 200 and again.json["stored"] == 2
    assert [p["value"] for p in stored(api, tenant, version)] == [0.8, 0.7]
    # The same name, time and segment again is the same point, with its new value; sent
    # twice in one batch, the last one counts.
    fixed = report(
        api,
        tenant.keys["monitor"],
        version,
        point("auc", 0.1, 20),
        point("auc", 0.81, 20),
    )
    assert fixed.status == 200 and fixed.json["stored"] == 1
    assert [p["value"] for p in stored(api, tenant, version)] == [0.81, 0.7]


def test_the_summary_keeps_the_newest_point_of_each_series_whatever_order_they_arrive_in(
    api: Api, tenant: Tenant, version: str
) -> None:
    assert summary(tenant, version).last_observed_at is None
    assert report(api, tenant.keys["monitor"], version, point("auc", 0.75, 5)).status == 200
    # WHEN an older AUC point arrives later, with a PSI point of a segment
    late = report(
        api,
        tenant.keys["monitor"],
        version,
        point("auc", 0.9, 60),
        point("psi", 0.3, 30, "region:emea"),
    )
    assert late.status == 200
    # THEN the summary keeps the newer AUC, and the segment's PSI
    found = summary(tenant, version)
    assert [(p.name, p.segment, p.value) for p in found.latest] == [
        ("auc", None, 0.75),
        ("psi", "region:emea", 0.3),
    ]
    assert found.last_observed_at == NOW - timedelta(minutes=5)
    assert late.json["last_observed_at"] == at(5)


def test_a_page_of_summaries_reads_every_version_asked_for_even_past_one_batch(
    api: Api, tenant: Tenant, version: str
) -> None:
    assert report(api, tenant.keys["monitor"], version, point("auc", 0.75, 5)).status == 200
    model_id = version.split("/")[3]
    pairs = [(model_id, 1)] + [(model_id, n) for n in range(2, 150)]
    found = for_tenant(tenant.id).metrics.latest_many(pairs)
    assert len(found) == 149
    assert [p.value for p in found[(model_id, 1)].latest] == [0.75]
    assert found[(model_id, 2)].last_observed_at is None and found[(model_id, 2)].latest == []


def test_each_point_expires_after_the_policys_retention(
    api: Api, tenant: Tenant, version: str
) -> None:
    policy = copy.deepcopy(DEFAULT_BODY)
    policy["metric_retention_days"] = 30
    put = api.call("PUT", "/v1/policy", tenant.keys["admin"], policy, headers={"If-Match": '"1"'})
    assert put.status == 200, put.json
    assert report(api, tenant.keys["monitor"], version, point("auc", 0.7, 60)).status == 200
    model_id = version.split("/")[3]
    keys = TenantKeys(tenant.id)
    from chalicelib.store import dynamo

    items, _ = dynamo.query(partition=("pk", keys.metric_points(model_id, 1)))
    observed = NOW - timedelta(minutes=60)
    assert [i["expires_at"] for i in items] == [int((observed + timedelta(days=30)).timestamp())]
    # AND a point older than the retention is refused
    old = report(api, tenant.keys["monitor"], version, point("auc", 0.7, 31 * 24 * 60))
    assert old.status == 422, old.json


# A bad point, as JSON text (`%s` is a time a good point would have), and the field the
# 400 names; it is sent second, after a good point, which must not be stored either.
BAD_POINTS = {
    "nan": ('{"name": "auc", "value": NaN, "observed_at": "%s"}', "value"),
    "infinity": ('{"name": "auc", "value": Infinity, "observed_at": "%s"}', "value"),
    "overflow": ('{"name": "auc", "value": -1e999, "observed_at": "%s"}', "value"),
    "beyond-dynamodb": ('{"name": "auc", "value": 1e130, "observed_at": "%s"}', "value"),
    "string-value": ('{"name": "auc", "value": "0.7", "observed_at": "%s"}', "value"),
    "name": ('{"name": "AUC", "value": 1, "observed_at": "%s"}', "name"),
    "hash-in-name": ('{"name": "auc#x", "value": 1, "observed_at": "%s"}', "name"),
    "segment": ('{"name": "a", "value": 1, "observed_at": "%s", "segment": "EU"}', "segment"),
    "no-offset": (
        '{"name": "auc", "value": 1, "observed_at": "2026-01-01T00:00:00"}',
        "observed_at",
    ),
    "unknown-field": ('{"name": "a", "value": 1, "observed_at": "%s", "unit": "x"}', "unit"),
}


def send(api: Api, key: str, path: str, raw: str) -> Any:
    json_type = {"Content-Type": "application/json"}
    return api.call("POST", f"{path}/metrics", key, raw=raw, headers=json_type)


@pytest.mark.parametrize(("bad", "field"), BAD_POINTS.values(), ids=BAD_POINTS.keys())
def test_a_malformed_point_is_refused_naming_the_field_and_nothing_is_stored(
    api: Api, tenant: Tenant, version: str, bad: str, field: str
) -> None:
    good = json.dumps(point("psi", 0.1, 1))
    bad_point = bad % at(1) if "%s" in bad else bad
    answer = send(api, tenant.keys["monitor"], version, f'{{"points": [{good}, {bad_point}]}}')
    assert answer.status == 400, answer.json
    assert f"body.points.1.{field}" in [e["field"] for e in answer.json["errors"]], answer.json
    assert stored(api, tenant, version) == []
    assert summary(tenant, version).latest == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [('{"points": []}', "body.points"), ('{"points": [], "model_id": "x"}', "body.model_id")],
    ids=["no-points", "unknown-field"],
)
def test_a_malformed_batch_is_a_400_naming_the_field(
    api: Api, tenant: Tenant, version: str, raw: str, field: str
) -> None:
    answer = send(api, tenant.keys["monitor"], version, raw)
    assert answer.status == 400, answer.json
    assert field in [e["field"] for e in answer.json["errors"]], answer.json


@pytest.mark.parametrize(
    ("minutes_ago", "why"),
    [(-6, "more than 5 minutes in the future"), (401 * 24 * 60, "older than the policy")],
    ids=["future", "past-retention"],
)
def test_a_point_observed_outside_the_kept_window_is_a_422_naming_it_and_nothing_is_stored(
    api: Api, tenant: Tenant, version: str, minutes_ago: float, why: str
) -> None:
    answer = report(
        api,
        tenant.keys["monitor"],
        version,
        point("auc", 0.7, 1),
        point("auc", 0.7, -4),  # a clock a little ahead is fine
        point("auc", 0.7, minutes_ago),
    )
    assert answer.status == 422, answer.json
    assert [e["field"] for e in answer.json["errors"]] == ["body.points[2].observed_at"]
    assert why in answer.json["errors"][0]["message"]
    assert stored(api, tenant, version) == []


def test_a_batch_above_500_points_is_a_413_naming_the_limit_and_nothing_is_stored(
    api: Api, tenant: Tenant, version: str
) -> None:
    points = [point("auc", 0.5, n / 60) for n in range(501)]
    answer = report(api, tenant.keys["monitor"], version, *points)
    assert answer.status == 413, answer.json
    assert "500" in answer.json["detail"]
    assert answer.json["errors"][0]["field"] == "body.points"
    assert stored(api, tenant, version) == []
    exactly = report(api, tenant.keys["monitor"], version, *points[:500])
    assert exactly.status == 200 and exactly.json["stored"] == 500
    assert len(stored(api, tenant, version, "?name=auc")) == 500


def test_a_missing_or_retired_version_takes_no_metrics(
    api: Api, tenant: Tenant, version: str
) -> None:
    model_path = version.rsplit("/", 2)[0]
    for path in (f"{model_path}/versions/2", "/v1/models/mdl_" + "0" * 26 + "/versions/1"):
        answer = report(api, tenant.keys["monitor"], path, point("auc", 0.7, 1))
        assert answer.status == 404, answer.json
        assert api.get(f"{path}/metrics", tenant.keys["auditor"]).status == 404
    retired = api.post(f"{version}/retire", tenant.keys["developer"])
    assert retired.status == 200, retired.json
    answer = report(api, tenant.keys["monitor"], version, point("auc", 0.7, 1))
    assert answer.status == 409, answer.json
    assert "retired" in answer.json["detail"]
    assert stored(api, tenant, version) == []


def test_the_models_team_and_admins_report_too_and_others_are_refused(
    api: Api, tenant: Tenant, version: str
) -> None:
    for role in ("developer", "admin", "monitor"):
        answer = report(api, tenant.keys[role], version, point(f"by.{role}", 1, 1))
        assert answer.status == 200, (role, answer.json)
    # A developer outside the model's team is refused, as are the other roles.
    for role in ("developer2", "validator", "approver", "auditor"):
        answer = report(api, tenant.keys[role], version, point(f"by.{role}", 1, 1))
        assert answer.status == 403, (role, answer.json)
    names = {p["name"] for p in stored(api, tenant, version)}
    assert names == {"by.developer", "by.admin", "by.monitor"}


def test_another_tenants_version_is_not_found_either_way(
    api: Api, tenant: Tenant, other_tenant: Tenant, version: str
) -> None:
    assert report(api, tenant.keys["monitor"], version, point("auc", 0.7, 1)).status == 200
    answer = report(api, other_tenant.keys["monitor"], version, point("auc", 0.1, 1))
    assert answer.status == 404, answer.json
    read = api.get(f"{version}/metrics", other_tenant.keys["auditor"])
    assert read.status == 404, read.json
    assert [p["value"] for p in stored(api, tenant, version)] == [0.7]


def test_a_range_that_ends_before_it_starts_holds_nothing(
    api: Api, tenant: Tenant, version: str
) -> None:
    assert report(api, tenant.keys["monitor"], version, point("auc", 0.7, 10)).status == 200
    for query in (f"name=auc&from={at(5)}&to={at(20)}", f"from={at(5)}&to={at(20)}"):
        answer = api.get(f"{version}/metrics?{query}", tenant.keys["auditor"])
        assert answer.status == 200 and answer.json["items"] == [], answer.json
    other = version.replace("/versions/1", "/versions/9")
    answer = api.get(f"{other}/metrics?from={at(5)}&to={at(20)}", tenant.keys["auditor"])
    assert answer.status == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "query.from"),
        ("to=2026-13-01T00:00:00Z", "query.to"),
        ("limit=0", "query.limit"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_parameter(
    api: Api, tenant: Tenant, version: str, query: str, field: str
) -> None:
    answer = api.get(f"{version}/metrics?{query}", tenant.keys["auditor"])
    assert answer.status == 400, answer.json
    assert [e["field"] for e in answer.json["errors"]] == [field]


@pytest.mark.usefixtures("atomic_aws")
def test_reports_racing_on_one_version_all_land_and_the_summary_keeps_the_newest(
    api: Api, tenant: Tenant, version: str
) -> None:
    # GIVEN eight pipelines reporting at once, each its own series and a shared one, the
    # first thread's shared point the newest
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def send_one(i: int) -> None:
        barrier.wait(timeout=30)
        answer = report(
            api,
            tenant.keys["monitor"],
            version,
            point("auc", float(i), i + 1),
            point(f"own.{i}", float(i), 1),
        )
        statuses.append(answer.status)

    threads = [threading.Thread(target=send_one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # THEN every report landed, and the summary has every series with the newest shared point
    assert statuses == [200] * 8
    found = {(p.name, p.value) for p in summary(tenant, version).latest}
    assert found == {("auc", 0.0)} | {(f"own.{i}", float(i)) for i in range(8)}
    assert len(stored(api, tenant, version, "?name=auc")) == 8


class Unprocessing:
    """The table's client, with BatchWriteItem leaving its last item unprocessed the first
    `times` calls (as DynamoDB does when a partition is busy)."""

    def __init__(self, inner: Any, times: int) -> None:
        self.inner, self.times, self.calls = inner, times, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.calls > self.times:
            return dict(self.inner.batch_write_item(RequestItems=RequestItems))
        ((table, requests),) = RequestItems.items()
        if len(requests) > 1:
            self.inner.batch_write_item(RequestItems={table: requests[:-1]})
        return {"UnprocessedItems": {table: requests[-1:]}}


@pytest.mark.parametrize(("times", "status"), [(3, 200), (99, 503)], ids=["busy", "too-busy"])
def test_points_dynamodb_leaves_unprocessed_are_sent_again_a_few_times_then_a_503(
    api: Api, tenant: Tenant, version: str, monkeypatch: pytest.MonkeyPatch, times: int, status: int
) -> None:
    from chalicelib.store import dynamo

    client = Unprocessing(dynamo._ddb(), times)
    monkeypatch.setattr(dynamo, "_ddb", lambda: client)
    monkeypatch.setattr(dynamo.time, "sleep", lambda seconds: None)
    answer = report(api, tenant.keys["monitor"], version, *[point("auc", 1, n) for n in range(30)])
    assert answer.status == status, answer.json
    if status == 200:
        assert len(stored(api, tenant, version)) == 30
    else:
        assert answer.headers["retry-after"] == "1"
        # what was written stays; the same batch again completes it
        monkeypatch.setattr(dynamo, "_ddb", lambda: client.inner)
        points = [point("auc", 1, n) for n in range(30)]
        assert report(api, tenant.keys["monitor"], version, *points).status == 200
        assert len(stored(api, tenant, version)) == 30
