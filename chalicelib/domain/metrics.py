"""Metrics a monitor (or the model's team) reports for a version: data points of a named
metric (`auc`, `psi`, `latency.p99`), optionally of one segment (`region:emea`), observed
at a time. They are operational records, outside the audit chain; what they cause (a
finding, when a scan reads a breach) is audited.

Besides the points, each version keeps one summary: the newest point of every (name,
segment) series and the newest observation time, which a compliance scan reads for a
page of versions at once (`MetricSummary`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, NamedTuple

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, StringConstraints

from chalicelib.domain.models import Inbound, ListPage, Outbound
from chalicelib.errors import DomainRuleError, FieldError, PayloadTooLargeError

# Names and segments: lower case, digits and `_ . : -`; never `#` (the sort keys join
# name, time and segment with it).
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"
MetricName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NAME_PATTERN)]
Segment = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NAME_PATTERN)]
NO_SEGMENT = "-"  # a point without a segment, in keys (no name or segment can be "-")
MAX_POINTS = 500  # a batch
MAX_SERIES = 500  # (name, segment) series a version's summary keeps (it is one item)
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks of reporting pipelines drift
# DynamoDB numbers: magnitudes from 1e-130 to under 1e126 (38 significant digits).
LARGEST = 9.9e125
SMALLEST = 1e-130


def _storable(value: float) -> float:
    """Below DynamoDB's smallest magnitude, 0 (a schema cannot state that gap)."""
    return 0.0 if abs(value) < SMALLEST else value


# A finite number DynamoDB can store (JSON's NaN and Infinity literals are refused), a
# magnitude under 1e-130 kept as 0.
Number = Annotated[
    float,
    Field(allow_inf_nan=False, ge=-LARGEST, le=LARGEST),
    AfterValidator(_storable),
]


class MetricPoint(Inbound):
    name: MetricName = Field(description="The metric: auc, psi, latency.p99, …")
    value: Number
    observed_at: AwareDatetime = Field(
        description="When it was measured (RFC 3339 with an offset; kept to the"
        " millisecond): not more than 5 minutes ahead, not older than the policy's"
        " metric_retention_days. The same name, segment and time again replaces the point"
    )
    segment: Segment | None = Field(
        default=None, description="The slice of traffic it measures (region:emea); none: all"
    )


_EXAMPLE: dict[str, Any] = {
    "points": [
        {"name": "auc", "value": 0.81, "observed_at": "2026-11-30T06:00:00Z"},
        {
            "name": "psi",
            "value": 0.07,
            "observed_at": "2026-11-30T06:00:00Z",
            "segment": "region:emea",
        },
    ]
}


class MetricsReport(Inbound):
    """A batch of data points of one version (at most 500; more is a 413)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    # The limit is checked by `check_batch` (a 413 naming it, not a schema 400); the
    # document states it.
    points: list[MetricPoint] = Field(min_length=1, json_schema_extra={"maxItems": MAX_POINTS})


class MetricsStored(Outbound):
    model_id: str
    version_number: int
    stored: int = Field(
        description="Points stored (a point sent twice in one batch counts once; the last wins)"
    )
    last_observed_at: datetime | None = Field(
        description="The newest observation of the version, this batch included"
    )


class DataPoint(Outbound):
    name: str
    value: float
    observed_at: datetime
    segment: str | None = None
    reported_by: str | None = None
    reported_at: datetime | None = None


class DataPointList(ListPage):
    items: list[DataPoint]


class LatestPoint(Outbound):
    name: str
    segment: str | None = None
    value: float
    observed_at: datetime


class MetricSummary(Outbound):
    """The newest point of each (name, segment) series of a version, and the newest
    observation time (None while the version has none)."""

    last_observed_at: datetime | None = None
    latest: list[LatestPoint] = Field(default_factory=list)


class Observed(NamedTuple):
    """A point as stored: its observation time as the text every record stores."""

    name: str
    value: float
    observed_at: str
    segment: str | None

    @property
    def series(self) -> str:
        return series_key(self.name, self.segment)


def series_key(name: str, segment: str | None) -> str:
    return f"{name}#{segment or NO_SEGMENT}"


def check_batch(report: MetricsReport) -> None:
    """413 for a batch above the limit."""
    if len(report.points) > MAX_POINTS:
        raise PayloadTooLargeError(
            f"{len(report.points)} points; a batch takes at most {MAX_POINTS}",
            errors=[FieldError("body.points", f"at most {MAX_POINTS} points a batch")],
        )


def check_times(report: MetricsReport, now: datetime, retention_days: int) -> None:
    """422 naming each point observed more than 5 minutes ahead of `now`, or longer ago
    than the retention (it would expire as it is written)."""
    latest, earliest = now + FUTURE_TOLERANCE, now - timedelta(days=retention_days)
    errors = []
    for index, point in enumerate(report.points):
        where = f"body.points[{index}].observed_at"
        if point.observed_at > latest:
            errors.append(FieldError(where, "more than 5 minutes in the future"))
        elif point.observed_at < earliest:
            errors.append(
                FieldError(where, f"older than the policy's retention of {retention_days} days")
            )
    if errors:
        raise DomainRuleError(
            f"{len(errors)} points are outside the time a version's metrics are kept",
            errors=errors,
        )


def distinct(points: list[Observed]) -> list[Observed]:
    """The points, one per (name, segment, time): a repeated one replaces the earlier, as a
    second report of it would."""
    found: dict[tuple[str, str, str], Observed] = {}
    for point in points:
        found[(point.name, point.observed_at, point.segment or NO_SEGMENT)] = point
    return list(found.values())


def merged(latest: dict[str, dict[str, Any]], points: list[Observed]) -> dict[str, dict[str, Any]]:
    """The summary's newest point per series once `points` are in: a point replaces the
    series' newest if it was observed at the same time or later, never if earlier."""
    result = dict(latest)
    for point in points:
        held = result.get(point.series)
        if held is None or str(held["observed_at"]) <= point.observed_at:
            entry: dict[str, Any] = {
                "name": point.name,
                "value": point.value,
                "observed_at": point.observed_at,
            }
            if point.segment is not None:
                entry["segment"] = point.segment
            result[point.series] = entry
    return result


def check_series(latest: dict[str, dict[str, Any]], points: list[Observed]) -> None:
    """422 when the points would take the version above MAX_SERIES series."""
    known = set(latest)
    added = {p.series for p in points} - known
    if len(known) + len(added) > MAX_SERIES:
        raise DomainRuleError(
            f"a version keeps at most {MAX_SERIES} series (name and segment); this batch"
            f" would add {len(added)} to its {len(known)}",
            errors=[FieldError("body.points", f"at most {MAX_SERIES} series a version")],
        )


def summary_of(item: dict[str, Any] | None) -> MetricSummary:
    """A stored summary item as the scan reads it (an empty one when there is none)."""
    if item is None:
        return MetricSummary()
    latest = sorted(
        (item.get("latest") or {}).values(),
        key=lambda e: (str(e["name"]), str(e.get("segment") or "")),
    )
    return MetricSummary.model_validate(
        {"last_observed_at": item.get("last_observed_at"), "latest": latest}
    )
