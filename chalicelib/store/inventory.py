"""Models and their versions, in the tenant's model partitions."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.lifecycle import UNCONFIRMED_TIER
from chalicelib.store import dynamo
from chalicelib.store.keys import VERSION_PREFIX, TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]


def tier_in_force_filter(tier: int, names: dict[str, str], values: dict[str, Any]) -> str:
    """A filter expression for models whose tier in force (`lifecycle.tier_in_force`) is
    `tier`, over the stored facts (adding its names and values): a confirmed tier counts as
    itself, an unconfirmed one, or a model stored before confirmation existed, as tier 1."""
    names.update({"#risk_tier": "risk_tier", "#confirmed": "risk_tier_confirmed"})
    values.update({":risk_tier": tier, ":true": True})
    confirmed = "(#confirmed = :true AND #risk_tier = :risk_tier)"
    if tier != UNCONFIRMED_TIER:
        return confirmed
    return f"({confirmed} OR attribute_not_exists(#confirmed) OR #confirmed <> :true)"


# The version statuses gsi1 indexes across the tenant's models (see `_version_item`).
INDEXED_VERSION_STATUSES = ("approved", "submitted")


class Inventory:
    """The model inventory of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def get_model(self, model_id: str) -> Item | None:
        return dynamo.get(self.keys.model(model_id))

    def _model_item(self, model: Item) -> Item:
        # In gsi1 under its status: the inventory by status is a Query of one partition.
        by_status = {"gsi1pk": self.keys.models_by_status(model["status"]), "gsi1sk": model["id"]}
        return {"tenant_id": self.tenant_id, **model, **by_status}

    def put_new_model(self, model: Item) -> dict[str, Any]:
        return dynamo.create_op(self.keys.model(model["id"]), self._model_item(model))

    def put_replace_model(self, model: Item, expected_revision: int) -> dict[str, Any]:
        """Replace a model if nobody changed it since `expected_revision` was read."""
        key = self.keys.model(model["id"])
        return dynamo.replace_op(key, self._model_item(model), expected_revision)

    def check_model_exists(self, model_id: str) -> dict[str, Any]:
        return dynamo.check_op(self.keys.model(model_id), "attribute_exists(pk)")

    def bump_version_count(
        self, model_id: str, expected_count: int, updated_at: str
    ) -> dict[str, Any]:
        """Claim the next version number: succeeds only if nobody claimed it first and the
        model has not been retired meanwhile (its last version retired as this was made).

        The model's representation changes (version_count), so its revision (ETag) moves
        too: a PATCH prepared before this cannot write the old count back.
        """
        return dynamo.update_op(
            self.keys.model(model_id),
            "SET #count = :next, #updated = :at, #rev = #rev + :one",
            "#count = :count AND #status <> :retired",
            names={
                "#count": "version_count",
                "#updated": "updated_at",
                "#rev": "revision",
                "#status": "status",
            },
            values={
                ":next": expected_count + 1,
                ":count": expected_count,
                ":at": updated_at,
                ":one": 1,
                ":retired": "retired",
            },
        )

    def list_models_page(
        self,
        limit: int,
        start: dict[str, Any] | None,
        filter_expression: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> Page:
        return dynamo.query(
            partition=("pk", self.keys.models),
            limit=limit,
            start_key=start,
            filter_expression=filter_expression,
            names=names,
            values=values,
        )

    def list_models_by_status_page(
        self,
        status: str,
        limit: int,
        start: dict[str, Any] | None,
        filter_expression: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> Page:
        """A page of the tenant's models in `status`, in the order of the whole list (by
        id): one Query of that status's partition of gsi1, however many models are in others."""
        return dynamo.query(
            partition=("gsi1pk", self.keys.models_by_status(status)),
            index="gsi1",
            limit=limit,
            start_key=start,
            filter_expression=filter_expression,
            names=names,
            values=values,
        )

    def get_version(self, model_id: str, number: int) -> Item | None:
        return dynamo.get(self.keys.version(model_id, number))

    def _version_item(self, version: Item) -> Item:
        # Approved and submitted versions sit in gsi1 under their status, across the
        # tenant's models and in (model, number) order: the compliance scan pages through
        # them without a Query per model. Every write of a version is a whole Put, so the
        # index follows its status.
        item = {"tenant_id": self.tenant_id, **version}
        if version.get("status") in INDEXED_VERSION_STATUSES:
            item["gsi1pk"] = self.keys.versions_by_status(version["status"])
            item["gsi1sk"] = f"{version['model_id']}#{int(version['number']):06d}"
        return item

    def put_new_version(self, version: Item) -> dict[str, Any]:
        key = self.keys.version(version["model_id"], version["number"])
        return dynamo.create_op(key, self._version_item(version))

    def put_replace_version(self, version: Item, expected_revision: int) -> dict[str, Any]:
        """Replace a version if unchanged since read and still a draft."""
        key = self.keys.version(version["model_id"], version["number"])
        item = self._version_item(version)
        return dynamo.replace_op(key, item, expected_revision, draft_only=True)

    def put_moved_version(
        self, version: Item, expected_revision: int, from_status: str
    ) -> dict[str, Any]:
        """Replace a version moving through its lifecycle: only if it is still at
        `expected_revision` and in `from_status`."""
        key = self.keys.version(version["model_id"], version["number"])
        return dynamo.put_op(
            {**key, **self._version_item(version)},
            "#rev = :rev AND #status = :from",
            names={"#rev": "revision", "#status": "status"},
            values={":rev": expected_revision, ":from": from_status},
        )

    def put_submitted_version(
        self, version: Item, expected_revision: int, artifact_changes: int | None
    ) -> dict[str, Any]:
        """Replace a draft version by its submitted self: only if it is still the draft at
        `expected_revision` and its artifacts changed no more than `artifact_changes` times
        (what the submission read), so an artifact registered meanwhile is never left out
        of what the request froze."""
        key = self.keys.version(version["model_id"], version["number"])
        condition = "#rev = :rev AND #status = :draft AND "
        values: dict[str, Any] = {":rev": expected_revision, ":draft": "draft"}
        if artifact_changes is None:
            condition += "attribute_not_exists(#changes)"
        else:
            condition += "#changes = :changes"
            values[":changes"] = artifact_changes
        return dynamo.put_op(
            {**key, **self._version_item(version)},
            condition,
            names={"#rev": "revision", "#status": "status", "#changes": "artifact_changes"},
            values=values,
        )

    def check_version_status(
        self, model_id: str, number: int, statuses: tuple[str, ...], *, negate: bool = False
    ) -> dict[str, Any]:
        """A condition that the version exists and is in one of `statuses` (with `negate`:
        in none of them)."""
        placeholders = {f":s{i}": status for i, status in enumerate(statuses)}
        within = f"#status IN ({', '.join(placeholders)})"
        return dynamo.check_op(
            self.keys.version(model_id, number),
            f"attribute_exists(pk) AND {'NOT ' if negate else ''}{within}",
            names={"#status": "status"},
            values=placeholders,
        )

    def list_versions_by_status_page(
        self, status: str, limit: int, start: dict[str, Any] | None
    ) -> Page:
        """A page of the tenant's versions in `status` (approved or submitted), across its
        models, in (model id, number) order: one Query of gsi1."""
        return dynamo.query(
            partition=("gsi1pk", self.keys.versions_by_status(status)),
            index="gsi1",
            limit=limit,
            start_key=start,
        )

    def list_versions_page(self, model_id: str, limit: int, start: dict[str, Any] | None) -> Page:
        return dynamo.query(
            partition=("pk", self.keys.versions(model_id)),
            sort_prefix=("sk", VERSION_PREFIX),
            limit=limit,
            start_key=start,
        )
