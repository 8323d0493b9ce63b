"""Pure rules of metrics and the policy that holds them: which thresholds a version is held
to, when a point breaches one, the due days of a finding, and how a version's summary
keeps the newest point of each series."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from chalicelib.domain.metrics import (
    MetricsReport,
    Observed,
    check_batch,
    check_series,
    check_times,
    distinct,
    merged,
    summary_of,
)
from chalicelib.domain.policy import (
    DEFAULT_BODY,
    Policy,
    PolicyBody,
    check,
    default_policy,
    stored,
)
from chalicelib.domain.severity import DEFAULT_DUE_DAYS, Severity
from chalicelib.errors import DomainRuleError, PayloadTooLargeError

MODEL = "mdl_01JDQ4ZK3W9V7Y5T2R8N6M4P2B"
OTHER = "mdl_01JDQ4ZK3W9V7Y5T2R8N6M4P2C"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def threshold(metric: str, comparison: str, value: float, **more: Any) -> dict[str, Any]:
    return {
        "metric": metric,
        "comparison": comparison,
        "threshold": value,
        "severity": more.pop("severity", "high"),
        **more,
    }


def policy_with(*thresholds: dict[str, Any], **fields: Any) -> Policy:
    body = PolicyBody.model_validate_json(
        json.dumps({**DEFAULT_BODY, "metric_thresholds": list(thresholds), **fields})
    )
    check(body)
    return Policy.model_validate(stored(body, 2, "prn_x", "2026-12-01T00:00:00.000Z"))


@pytest.mark.parametrize(
    ("comparison", "breaching", "holding"),
    [
        ("lt", [0.69, -1], [0.7, 0.9]),
        ("le", [0.7, 0.1], [0.71]),
        ("gt", [0.71, 5], [0.7, 0.0]),
        ("ge", [0.7, 1], [0.69]),
    ],
)
def test_a_point_breaches_when_its_value_compares_to_the_threshold_as_the_policy_says(
    comparison: str, breaching: list[float], holding: list[float]
) -> None:
    (held,) = policy_with(threshold("auc", comparison, 0.7)).thresholds_for(MODEL, 1)
    assert [held.breached(v) for v in breaching] == [True] * len(breaching)
    assert [held.breached(v) for v in holding] == [False] * len(holding)


def test_a_threshold_holds_every_segment_unless_it_names_one() -> None:
    policy = policy_with(
        threshold("psi", "gt", 0.25),
        threshold("psi", "gt", 0.1, segment="region:emea", severity="low"),
    )
    every, emea = policy.thresholds_for(MODEL, 2)
    assert every.applies_to_segment(None) and every.applies_to_segment("region:us")
    assert emea.applies_to_segment("region:emea")
    assert not emea.applies_to_segment(None) and not emea.applies_to_segment("region:us")


def test_a_version_is_held_to_the_thresholds_of_its_tier_and_those_of_every_tier() -> None:
    policy = policy_with(
        threshold("auc", "lt", 0.8, tiers=[1]),
        threshold("auc", "lt", 0.7, tiers=[2, 3]),
        threshold("psi", "gt", 0.25),
    )
    assert [(t.metric, t.threshold) for t in policy.thresholds_for(MODEL, 1)] == [
        ("auc", 0.8),
        ("psi", 0.25),
    ]
    assert [(t.metric, t.threshold) for t in policy.thresholds_for(MODEL, 3)] == [
        ("auc", 0.7),
        ("psi", 0.25),
    ]


def test_a_models_own_threshold_replaces_the_tier_wide_ones_for_its_metric_only() -> None:
    policy = policy_with(
        threshold("auc", "lt", 0.7),
        threshold("auc", "lt", 0.75, segment="region:emea"),
        threshold("psi", "gt", 0.25),
        threshold("auc", "lt", 0.6, model_id=MODEL, severity="critical"),
    )
    mine = policy.thresholds_for(MODEL, 1)
    assert [(t.metric, t.threshold, t.model_id) for t in mine] == [
        ("psi", 0.25, None),
        ("auc", 0.6, MODEL),
    ]
    others = policy.thresholds_for(OTHER, 1)
    assert [(t.metric, t.threshold) for t in others] == [
        ("auc", 0.7),
        ("auc", 0.75),
        ("psi", 0.25),
    ]


def test_a_models_own_threshold_for_other_tiers_does_not_hold_it() -> None:
    policy = policy_with(
        threshold("auc", "lt", 0.7), threshold("auc", "lt", 0.6, model_id=MODEL, tiers=[3])
    )
    assert [t.threshold for t in policy.thresholds_for(MODEL, 1)] == [0.7]
    assert [t.threshold for t in policy.thresholds_for(MODEL, 3)] == [0.6]


def test_due_days_come_from_the_policy_and_default_by_severity() -> None:
    assert {s: default_policy().due_days(s) for s in Severity} == DEFAULT_DUE_DAYS
    policy = policy_with(finding_due_days={"critical": 2, "low": 365})
    assert [policy.due_days(s) for s in Severity] == [2, 30, 90, 365]
    assert policy.due_days("high") == 30


def test_a_policy_stored_before_the_metric_settings_reads_back_with_their_defaults() -> None:
    old = {
        k: v
        for k, v in DEFAULT_BODY.items()
        if k
        not in (
            "metric_thresholds",
            "metrics_stale_after_days",
            "finding_due_days",
            "metric_retention_days",
        )
    }
    policy = Policy.model_validate({**old, "version": 4, "created_by": "prn_x"})
    assert policy.metric_thresholds == [] and policy.thresholds_for(MODEL, 1) == []
    assert policy.metrics_stale_after_days == 30
    assert policy.metric_retention_days == 400
    assert policy.due_days(Severity.MEDIUM) == 90


def test_duplicate_thresholds_are_refused_naming_the_later_one() -> None:
    body = PolicyBody.model_validate_json(
        json.dumps(
            {
                **DEFAULT_BODY,
                "metric_thresholds": [
                    threshold("auc", "lt", 0.7),
                    threshold("auc", "lt", 0.7, segment="region:emea"),
                    threshold("auc", "le", 0.5, tiers=[3, 1, 2], severity="critical"),
                    threshold("auc", "lt", 0.6, model_id=MODEL),
                    threshold("auc", "lt", 0.8, tiers=[1]),
                ],
            }
        )
    )
    with pytest.raises(DomainRuleError, match="metric thresholds") as refused:
        check(body)
    assert [e.field for e in refused.value.errors] == ["body.metric_thresholds[2]"]


@pytest.mark.parametrize(
    "raw",
    ["NaN", "Infinity", "-Infinity", "1e999", '"0.7"', "true"],
)
def test_a_threshold_must_be_a_finite_number(raw: str) -> None:
    text = json.dumps({**DEFAULT_BODY, "metric_thresholds": [threshold("auc", "lt", 0)]})
    text = text.replace('"threshold": 0', f'"threshold": {raw}')
    with pytest.raises(PydanticValidationError, match=r"metric_thresholds\.0\.threshold"):
        PolicyBody.model_validate_json(text)


def test_points_of_the_same_name_time_and_segment_are_one_and_the_last_counts() -> None:
    points = [
        Observed("auc", 0.1, "2026-12-01T00:00:00.000Z", None),
        Observed("auc", 0.2, "2026-12-01T00:00:00.000Z", "region:emea"),
        Observed("auc", 0.3, "2026-12-01T00:00:00.000Z", None),
    ]
    assert [p.value for p in distinct(points)] == [0.3, 0.2]


def test_the_summary_never_lets_an_older_point_replace_a_newer_one() -> None:
    newer = Observed("auc", 0.8, "2026-12-01T10:00:00.000Z", None)
    older = Observed("auc", 0.5, "2026-12-01T09:00:00.000Z", None)
    again = Observed("auc", 0.9, "2026-12-01T10:00:00.000Z", None)
    latest = merged({}, [newer, older])
    assert merged(latest, [older]) == latest
    assert latest["auc#-"]["value"] == 0.8
    assert merged(latest, [again])["auc#-"]["value"] == 0.9
    segment = Observed("auc", 0.4, "2026-12-01T08:00:00.000Z", "region:us")
    both = summary_of({"latest": merged(latest, [segment]), "last_observed_at": newer.observed_at})
    assert [(p.segment, p.value) for p in both.latest] == [(None, 0.8), ("region:us", 0.4)]
    assert both.last_observed_at == datetime(2026, 12, 1, 10, tzinfo=UTC)


def report(*minutes_ago: float) -> MetricsReport:
    return MetricsReport.model_validate_json(
        json.dumps(
            {
                "points": [
                    {
                        "name": "auc",
                        "value": 0.5,
                        "observed_at": (NOW - timedelta(minutes=m)).isoformat(),
                    }
                    for m in minutes_ago
                ]
            }
        )
    )


def test_points_may_be_a_little_ahead_but_not_beyond_the_window_kept() -> None:
    check_times(report(0, -5, 60 * 24 * 30), NOW, 30)
    with pytest.raises(DomainRuleError, match="2 points") as refused:
        check_times(report(1, -5.01, 60 * 24 * 30 + 1), NOW, 30)
    assert [e.field for e in refused.value.errors] == [
        "body.points[1].observed_at",
        "body.points[2].observed_at",
    ]


def test_a_batch_holds_at_most_500_points_and_a_version_500_series() -> None:
    check_batch(report(*range(500)))
    with pytest.raises(PayloadTooLargeError, match="at most 500"):
        check_batch(report(*range(501)))
    held: dict[str, dict[str, Any]] = {f"m{n}#-": {} for n in range(499)}
    check_series(held, [Observed("auc", 1, "t", None), Observed("m1", 1, "t", None)])
    with pytest.raises(DomainRuleError, match="at most 500 series"):
        check_series(held, [Observed("auc", 1, "t", None), Observed("psi", 1, "t", None)])
