"""The reads examiner reports make: pages of the tenant's models with only the attributes
a report needs (ProjectionExpression keeps a page's answer small, so pages are big), the
versions, approval requests and principals a page of models names, in BatchGetItems of
100 keys, and the tenant's open production deployments of a page's models; and big pages
of the tenant's findings, only what their counts need."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import OPEN_DEPLOYMENT, TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]
BATCH = 100  # keys one BatchGetItem takes
COUNT_PAGE = 1000  # models one Query of a count reads (DynamoDB stops at 1 MB before that)
# The attributes of a model an inventory row shows.
MODEL_ROW = (
    "id",
    "name",
    "purpose",
    "intended_use",
    "restrictions",
    "risk_tier",
    "risk_tier_confirmed",
    "regulatory_scope",
    "business_unit",
    "status",
    "owner_id",
    "developer_ids",
    "version_count",
    "production_deployments",
)
VERSION_ROW = (
    "model_id",
    "number",
    "status",
    "approval",
    "revalidated_at",
    "revalidation_due_at",
)
DEPLOYMENT_ROW = ("id", "model_id", "version_number", "target", "since", "until")


class ReportReads:
    """Report reads of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys

    def model_counts_page(self, start: dict[str, Any] | None) -> Page:
        """A big page of the tenant's models, only their tier and status."""
        return dynamo.query(
            partition=("pk", self.keys.models),
            limit=COUNT_PAGE,
            start_key=start,
            projection=("risk_tier", "risk_tier_confirmed", "status"),
        )

    def finding_counts_page(self, start: dict[str, Any] | None) -> Page:
        """A big page of the tenant's findings, only their status, severity and rule."""
        return dynamo.query(
            partition=("pk", self.keys.findings),
            limit=COUNT_PAGE,
            start_key=start,
            projection=("status", "severity", "rule"),
        )

    def models_page(self, limit: int, start: dict[str, Any] | None) -> Page:
        """A page of the tenant's models (by id), with what an inventory row shows."""
        return dynamo.query(
            partition=("pk", self.keys.models),
            limit=limit,
            start_key=start,
            projection=MODEL_ROW,
        )

    def models(self, model_ids: Sequence[str]) -> list[Item]:
        """The tenant's models among `model_ids` (what a row shows), in BatchGetItems."""
        return self._batch([self.keys.model(m) for m in model_ids], MODEL_ROW)

    def versions(self, counts: Mapping[str, int]) -> list[Item]:
        """Every version of each model (`counts`: model id -> version count)."""
        keys = [
            self.keys.version(model_id, number)
            for model_id, count in counts.items()
            for number in range(1, count + 1)
        ]
        return self._batch(keys, VERSION_ROW)

    def approval_stages(self, request_ids: Sequence[str]) -> list[Item]:
        """The stages (with their decisions) of the tenant's approval requests."""
        return self._batch([self.keys.approval(r) for r in request_ids], ("id", "stages"))

    def principals(self, principal_ids: Sequence[str]) -> list[Item]:
        """The names and emails of the tenant's principals among `principal_ids`."""
        keys = [self.keys.principal(p) for p in principal_ids]
        return self._batch(keys, ("id", "name", "email"))

    def open_production(self, model_ids: Sequence[str]) -> list[Item]:
        """The open production deployments of the models `model_ids` (at most 100): one
        Query of the open end of the tenant's production history (gsi1), filtered to them,
        paged to its end."""
        values = {f":m{i}": m for i, m in enumerate(model_ids)}
        found: list[Item] = []
        start: dict[str, Any] | None = None
        while True:
            items, start = dynamo.query(
                partition=("gsi1pk", self.keys.deployed("production")),
                sort_prefix=("gsi1sk", OPEN_DEPLOYMENT),
                index="gsi1",
                limit=COUNT_PAGE,
                start_key=start,
                filter_expression=f"#model IN ({', '.join(values)})",
                names={"#model": "model_id"},
                values=values,
                projection=DEPLOYMENT_ROW,
            )
            found.extend(items)
            if not start:
                return found

    def _batch(self, keys: list[dict[str, str]], projection: tuple[str, ...]) -> list[Item]:
        unique = list({(k["pk"], k["sk"]): k for k in keys}.values())
        found: list[Item] = []
        for chunk in _chunks(unique, BATCH):
            found.extend(dynamo.batch_get(chunk, projection=projection))
        return found


def _chunks(keys: list[dict[str, str]], size: int) -> Iterator[list[Mapping[str, str]]]:
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])
