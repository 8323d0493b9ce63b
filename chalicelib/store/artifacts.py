"""Artifact records, in the partition of their model beside its versions."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]


class Artifacts:
    """The artifact records of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def get(self, model_id: str, number: int, name: str) -> Item | None:
        return dynamo.get(self.keys.artifact(model_id, number, name))

    def get_with_model(
        self, model_id: str, number: int, name: str
    ) -> tuple[Item | None, Item | None]:
        """The model and the artifact record, in one BatchGetItem (a change to an artifact
        needs its model's team and the record's revision)."""
        model_key = self.keys.model(model_id)
        artifact_key = self.keys.artifact(model_id, number, name)
        found = {(i["pk"], i["sk"]): i for i in dynamo.batch_get([model_key, artifact_key])}
        return (
            found.get((model_key["pk"], model_key["sk"])),
            found.get((artifact_key["pk"], artifact_key["sk"])),
        )

    def _item(self, artifact: Item) -> Item:
        key = self.keys.artifact(artifact["model_id"], artifact["version_number"], artifact["name"])
        return {**key, "tenant_id": self.tenant_id, **artifact}

    def put_new(self, artifact: Item) -> dict[str, Any]:
        """Create the record; fails if the name is taken on the version."""
        return dynamo.put_op(self._item(artifact), "attribute_not_exists(pk)")

    def put_replace(
        self, artifact: Item, expected_revision: int, *, status: str | None = None
    ) -> dict[str, Any]:
        """Replace the record if it is still at `expected_revision` (and, when given, in
        `status`): a verdict lands only on the registration it was made for."""
        condition = "#rev = :rev"
        names: dict[str, str] = {"#rev": "revision"}
        values: dict[str, Any] = {":rev": expected_revision}
        if status is not None:
            condition += " AND #status = :status"
            names["#status"], values[":status"] = "status", status
        return dynamo.put_op(self._item(artifact), condition, names=names, values=values)

    def change_on_draft(self, model_id: str, number: int) -> dict[str, Any]:
        """An operation asserting that the version exists and is a draft (only drafts take
        artifacts, checked in the same transaction as the change, so a submission cannot
        slip between) and counting the change on it (`artifact_changes`): a submission,
        which reads the version's artifacts, commits only if none changed since."""
        return dynamo.update_op(
            self.keys.version(model_id, number),
            "ADD #changes :one",
            "attribute_exists(pk) AND #status = :draft",
            names={"#status": "status", "#changes": "artifact_changes"},
            values={":draft": "draft", ":one": 1},
        )

    def list_page(
        self, model_id: str, number: int, limit: int, start: dict[str, Any] | None
    ) -> Page:
        """A page of a version's artifacts, by name."""
        return dynamo.query(
            partition=("pk", self.keys.versions(model_id)),
            sort_prefix=("sk", self.keys.artifacts(number)),
            limit=limit,
            start_key=start,
        )
