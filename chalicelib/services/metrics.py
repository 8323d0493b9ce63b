"""Metrics of a version: reporting data points and reading them back.

Who reports: monitors (the service accounts of monitoring pipelines), the model's team
(developers) and admins, as for deployments. Any version but a retired one takes points.
Points are operational records (`store.metrics`): written outside the audit chain, in
batches, after every point of the request has been checked, so bad input stores nothing.
A report that fails part-way (a 503) may have stored some of its points; sending the same
batch again is safe, since a point is keyed by its name, time and segment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.domain import duties, metrics
from chalicelib.domain.actors import Actor
from chalicelib.domain.ids import is_id
from chalicelib.domain.lifecycle import VersionStatus
from chalicelib.domain.metrics import DataPoint, MetricsReport, MetricsStored, Observed
from chalicelib.domain.models import Model, Version
from chalicelib.domain.policy import Policy, default_policy
from chalicelib.domain.roles import Role
from chalicelib.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    TransientConflictError,
)
from chalicelib.services.inventory import version_number
from chalicelib.services.records import to_model
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.writer import iso

ATTEMPTS = 25  # reports racing on one version's summary
# Reporting metrics is the team's, or a monitor's or admin's for any model.
ANY_MODEL = (Role.ADMIN, Role.MONITOR)


def require_reporter(actor: Actor, model: Model) -> None:
    """403 unless the actor may report the model's metrics (see the module docstring)."""
    if actor.has_any(*ANY_MODEL):
        return
    members = duties.team(model.owner_id, model.developer_ids)
    if not duties.on_team(actor, members) or not actor.has_any(duties.TEAM_ROLE):
        raise ForbiddenError(
            "only the model's team (developers), monitors or admins report its metrics"
        )


def _number(model_id: str, number: str) -> int:
    n = version_number(number)
    if n is None or not is_id(model_id, "model"):
        raise NotFoundError(f"no version {number} of model {model_id}")
    return n


def report(actor: Actor, model_id: str, number: str, body: MetricsReport) -> MetricsStored:
    """Store a batch of data points of version `number` and bring its summary up to date.

    One BatchGetItem reads the model (its team), the version (retired?), the policy in
    force (the retention) and the version's summary; then the points are written, 25 a
    BatchWriteItem, and the summary replaced conditionally (read again on a race)."""
    metrics.check_batch(body)
    store = for_actor(actor)
    n = _number(model_id, number)
    keys = store.keys
    found = store.get_many(
        [
            keys.model(model_id),
            keys.version(model_id, n),
            keys.policy_current(),
            store.metrics.summary_key(model_id, n),
        ]
    )
    model_item, version_item, policy_item, summary_item = found
    if model_item is None or version_item is None:
        raise NotFoundError(f"no version {number} of model {model_id}")
    require_reporter(actor, to_model(Model, model_item))
    version = to_model(Version, version_item)
    if version.status is VersionStatus.RETIRED:
        raise ConflictError(f"version {version.number} is retired; it takes no metrics")
    policy = to_model(Policy, policy_item) if policy_item else default_policy()
    now = clock.now()
    metrics.check_times(body, now, policy.metric_retention_days)
    points = metrics.distinct(
        [Observed(p.name, p.value, iso(p.observed_at), p.segment) for p in body.points]
    )
    metrics.check_series((summary_item or {}).get("latest") or {}, points)
    at = iso(now)
    store.metrics.put_points(
        model_id,
        n,
        points,
        reported_by=actor.principal_id,
        reported_at=at,
        keep=timedelta(days=policy.metric_retention_days),
    )
    newest = _summarize(store, model_id, n, points, summary_item, at)
    return MetricsStored.model_validate(
        {
            "model_id": model_id,
            "version_number": n,
            "stored": len(points),
            "last_observed_at": newest,
        }
    )


def _summarize(
    store: TenantStore,
    model_id: str,
    n: int,
    points: list[Observed],
    item: dict[str, Any] | None,
    at: str,
) -> str | None:
    """Merge `points` into the version's summary (`item`, as read); the newest time."""
    for _ in range(ATTEMPTS):
        held: dict[str, dict[str, Any]] = dict(item.get("latest") or {}) if item else {}
        latest = metrics.merged(held, points)
        if latest == held:  # nothing newer (a retried batch): nothing to write
            return str(item["last_observed_at"]) if item else None
        revision = int(item["revision"]) if item else None
        if store.metrics.put_summary(model_id, n, latest, revision, at):
            return max(str(p["observed_at"]) for p in latest.values())
        item = store.metrics.summary(model_id, n)
    raise TransientConflictError("the version's metrics changed too often meanwhile; retry")


def list_points(
    actor: Actor,
    model_id: str,
    number: str,
    limit: int,
    cursor_text: str | None,
    *,
    name: str | None = None,
    segment: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[DataPoint], str | None]:
    """A page of a version's data points, oldest first: of one name, or of every name in
    name then time order; of one segment; observed from `since` (included) to `until`
    (excluded); a range that ends before it starts holds nothing."""
    store = for_actor(actor)
    n = _number(model_id, number)
    low = _ceil_ms(since) if since is not None else None
    high = _ceil_ms(until) if until is not None else None
    empty = low is not None and high is not None and low > high
    filtered = segment is not None or (name is None and (since or until) is not None)
    items, next_cursor = store.page(
        lambda size, start: (
            ([], None)
            if empty
            else store.metrics.list_page(
                model_id, n, size, start, name=name, segment=segment, since=low, until=high
            )
        ),
        query="metrics",
        limit=limit,
        cursor_text=cursor_text,
        filtered=filtered,
        model=model_id,
        number=n,
        name=name,
        segment=segment,
        since=low,
        until=high,
    )
    if not items and cursor_text is None and store.inventory.get_version(model_id, n) is None:
        # an empty first page: 404 if the version is not ours (one GetItem)
        raise NotFoundError(f"no version {number} of model {model_id}")
    return [to_model(DataPoint, i) for i in items], next_cursor


def _ceil_ms(moment: datetime) -> str:
    """`moment` as stored times are written (milliseconds), rounded up: a bound between two
    milliseconds admits exactly the points at or after it."""
    cut = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if cut < moment and cut < datetime.max.replace(tzinfo=cut.tzinfo) - timedelta(milliseconds=1):
        cut += timedelta(milliseconds=1)
    return iso(cut)
