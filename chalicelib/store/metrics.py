"""Metric data points and each version's summary: operational records, outside the audit
chain (docs/architecture.md, "Governance facts and operational records").

- Points live in a partition of their own per version (`T#<t>#METRIC#<model>#<n>`),
  sorted by name, then observation time, then segment; the same name, time and segment is
  the same item, so a retried batch overwrites what it wrote. Each carries `expires_at`
  (the table's TTL attribute): its observation time plus the policy's retention.
- One summary per version (`T#<t>#METRICS`, `<model>#<n>`) holds the newest point of each
  (name, segment) series and the newest observation time. It is replaced only with a
  condition on the revision it was read at, so two reports racing on it both land, and a
  point never replaces a newer one. A compliance scan reads a page of versions' summaries
  in one BatchGetItem (`latest_many`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.metrics import MetricSummary, Observed, summary_of
from chalicelib.store import dynamo
from chalicelib.store.keys import Key, TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]
BATCH_GET = 100  # keys a BatchGetItem takes
AFTER = "~"  # sorts after every character of a name, a time or a segment


class Metrics:
    """The metric points and summaries of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def summary_key(self, model_id: str, number: int) -> Key:
        return self.keys.metric_summary(model_id, number)

    def put_points(
        self,
        model_id: str,
        number: int,
        points: list[Observed],
        *,
        reported_by: str | None,
        reported_at: str,
        keep: timedelta,
    ) -> None:
        """Store `points` (distinct keys) of version `number`, each kept for `keep` after
        its observation; BatchWriteItem, 25 a call."""
        items = []
        for point in points:
            expires = datetime.fromisoformat(point.observed_at) + keep
            item: Item = {
                **self.keys.metric_point(
                    model_id, number, point.name, point.observed_at, point.segment
                ),
                "tenant_id": self.tenant_id,
                "model_id": model_id,
                "version_number": number,
                "name": point.name,
                "value": point.value,
                "observed_at": point.observed_at,
                "segment": point.segment,
                "reported_by": reported_by,
                "reported_at": reported_at,
                "expires_at": int(expires.timestamp()),
            }
            items.append(item)
        dynamo.batch_put(items)

    def summary(self, model_id: str, number: int) -> Item | None:
        """The version's summary item, read consistently; None before its first point."""
        return dynamo.get(self.summary_key(model_id, number))

    def put_summary(
        self,
        model_id: str,
        number: int,
        latest: dict[str, dict[str, Any]],
        revision: int | None,
        at: str,
    ) -> bool:
        """Replace the version's summary with `latest` (series key -> newest point), if it
        is still at `revision` (None: there is none yet); False when another report
        replaced it since (read it again and merge)."""
        newest = max((str(p["observed_at"]) for p in latest.values()), default=None)
        item = {
            **self.summary_key(model_id, number),
            "tenant_id": self.tenant_id,
            "model_id": model_id,
            "version_number": number,
            "latest": latest,
            "last_observed_at": newest,
            "revision": (revision or 0) + 1,
            "updated_at": at,
        }
        if revision is None:
            return dynamo.put_if(item, "attribute_not_exists(pk)")
        return dynamo.put_if(item, "#rev = :rev", {"#rev": "revision"}, {":rev": revision})

    def latest_many(self, pairs: list[tuple[str, int]]) -> dict[tuple[str, int], MetricSummary]:
        """The summaries of the versions `pairs` names ((model id, number)), one
        BatchGetItem per 100; every pair is answered, an empty summary where the version
        has no point."""
        wanted = list(dict.fromkeys(pairs))
        found: dict[tuple[str, int], Item] = {}
        for start in range(0, len(wanted), BATCH_GET):
            chunk = wanted[start : start + BATCH_GET]
            keys: list[Mapping[str, str]] = [self.summary_key(m, n) for m, n in chunk]
            for item in dynamo.batch_get(keys):
                found[(str(item["model_id"]), int(item["version_number"]))] = item
        return {pair: summary_of(found.get(pair)) for pair in wanted}

    def list_page(
        self,
        model_id: str,
        number: int,
        limit: int,
        start: dict[str, Any] | None,
        *,
        name: str | None = None,
        segment: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Page:
        """A page of a version's points: of one name (by time), or of every name (by name,
        then time); of one segment; observed from `since` (included) to `until` (not)."""
        clauses: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        between: tuple[str, str, str] | None = None
        prefix: tuple[str, str] | None = None
        if name is not None and (since is not None or until is not None):
            low = f"{name}#{since or ''}"
            # A point observed at `until` sorts after `<name>#<until>` (its segment follows).
            high = f"{name}#{until}" if until is not None else f"{name}#{AFTER}"
            between = ("sk", low, high)
        elif name is not None:
            prefix = ("sk", f"{name}#")
        else:
            if since is not None:
                clauses.append("#at >= :since")
                names["#at"], values[":since"] = "observed_at", since
            if until is not None:
                clauses.append("#at < :until")
                names["#at"], values[":until"] = "observed_at", until
        if segment is not None:
            clauses.append("#seg = :seg")
            names["#seg"], values[":seg"] = "segment", segment
        return dynamo.query(
            partition=("pk", self.keys.metric_points(model_id, number)),
            sort_prefix=prefix,
            sort_between=between,
            limit=limit,
            start_key=start,
            filter_expression=" AND ".join(clauses) or None,
            names=names or None,
            values=values or None,
        )
