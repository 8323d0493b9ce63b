"""Deployments, in the partition of their model beside its versions, and the tenant's
deployment history by time in gsi1.

Each deployment also sits in gsi1 under its tenant and environment
(`T#<t>#DEPLOYED#<environment>`), sorted by valid-until: `<until>#<id>` once it ended,
`OPEN#<id>` while it runs (after every time). "What ran in production at time X" is then
one Query of the sort keys from X up, filtered to those valid from X or earlier: it reads
what was still running after X, never the history before it, and answers the same
tomorrow as today (`in_force_at`, which a point-in-time inventory reads).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import OPEN_DEPLOYMENT, TenantKeys
from chalicelib.store.writer import iso

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]
# Above every `OPEN#<id>` sort key (ids are ULIDs, `~` sorts after their alphabet).
_AFTER_OPEN = OPEN_DEPLOYMENT + "~"

# Filter clauses of a version's list, by query parameter.
_OPEN = "attribute_not_exists(#until)"
_IN_FORCE = "#since <= :at AND (attribute_not_exists(#until) OR #until > :at)"


class Deployments:
    """The deployments of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    def key(self, deployment: Item) -> dict[str, str]:
        return self.keys.deployment(
            deployment["model_id"], deployment["version_number"], deployment["id"]
        )

    def get(self, model_id: str, number: int, deployment_id: str) -> Item | None:
        return dynamo.get(self.keys.deployment(model_id, number, deployment_id))

    def put_new(self, deployment: Item) -> dict[str, Any]:
        """Create an open deployment."""
        item = {
            **self.key(deployment),
            "tenant_id": self.tenant_id,
            **deployment,
            "gsi1pk": self.keys.deployed(deployment["environment"]),
            "gsi1sk": f"{OPEN_DEPLOYMENT}{deployment['id']}",
        }
        return dynamo.put_op(item, "attribute_not_exists(pk)")

    def _target(self, deployment: Item) -> dict[str, str]:
        return self.keys.deployed_target(
            deployment["model_id"],
            deployment["version_number"],
            deployment["environment"],
            deployment["target"],
        )

    def claim_target(self, deployment: Item) -> dict[str, Any]:
        """Name `deployment` as the open one of its version at its environment and target;
        fails while another is open there."""
        return dynamo.put_op(
            {**self._target(deployment), "deployment_id": deployment["id"]},
            "attribute_not_exists(pk) OR attribute_not_exists(#dep)",
            names={"#dep": "deployment_id"},
        )

    def release_target(self, deployment: Item) -> dict[str, Any]:
        """Free the version's environment and target held by `deployment` (as it ends); one
        that holds nothing (recorded before targets were held) frees nothing."""
        return dynamo.update_op(
            self._target(deployment),
            "REMOVE #dep",
            "attribute_not_exists(#dep) OR #dep = :id",
            names={"#dep": "deployment_id"},
            values={":id": deployment["id"]},
        )

    def holding_target(self, deployment: Item) -> str | None:
        """The id of the open deployment holding `deployment`'s environment and target."""
        item = dynamo.get(self._target(deployment))
        return str(item["deployment_id"]) if item and item.get("deployment_id") else None

    def end(self, deployment: Item, until: str, ended_by: str) -> dict[str, Any]:
        """End an open deployment at `until` (fails if it ended already); it moves to its
        place by valid-until in the history index."""
        return dynamo.update_op(
            self.key(deployment),
            "SET #until = :until, #by = :by, #gsk = :gsk",
            "attribute_exists(pk) AND attribute_not_exists(#until)",
            names={"#until": "until", "#by": "ended_by", "#gsk": "gsi1sk"},
            values={":until": until, ":by": ended_by, ":gsk": f"{until}#{deployment['id']}"},
        )

    def list_page(
        self,
        model_id: str,
        number: int,
        limit: int,
        start: dict[str, Any] | None,
        *,
        environment: str | None = None,
        open_only: bool | None = None,
        at: datetime | None = None,
        consistent: bool = False,
    ) -> Page:
        """A page of a version's deployments, oldest first: of one environment, only the
        open (`open_only=True`) or the ended ones (False), those in force at `at`."""
        clauses: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if environment is not None:
            clauses.append("#env = :env")
            names["#env"], values[":env"] = "environment", environment
        if open_only is not None:
            clauses.append(_OPEN if open_only else f"NOT {_OPEN}")
            names["#until"] = "until"
        if at is not None:
            clauses.append(_IN_FORCE)
            names |= {"#since": "since", "#until": "until"}
            values[":at"] = iso(at)
        return dynamo.query(
            partition=("pk", self.keys.versions(model_id)),
            sort_prefix=("sk", self.keys.deployments(number)),
            limit=limit,
            start_key=start,
            filter_expression=" AND ".join(clauses) or None,
            names=names or None,
            values=values or None,
            consistent=consistent,
        )

    def open_page(
        self, environment: str, limit: int = 100, start: dict[str, Any] | None = None
    ) -> Page:
        """A page of the tenant's deployments to `environment` still open, across its
        models: one Query of gsi1 (open ones sort after every ended one)."""
        return dynamo.query(
            partition=("gsi1pk", self.keys.deployed(environment)),
            sort_prefix=("gsi1sk", OPEN_DEPLOYMENT),
            index="gsi1",
            limit=limit,
            start_key=start,
        )

    def in_force_at(
        self,
        environment: str,
        at: datetime,
        limit: int = 100,
        start: dict[str, Any] | None = None,
    ) -> Page:
        """A page of the tenant's deployments to `environment` in force at `at` (valid from
        `at` or earlier, until after it or still open), by valid-until: the point-in-time
        inventory. It reads the deployments still running after `at`, not older history.
        Times compare as the text every record stores (`writer.iso`: UTC, milliseconds)."""
        moment = iso(at)
        return dynamo.query(
            partition=("gsi1pk", self.keys.deployed(environment)),
            sort_between=("gsi1sk", moment, _AFTER_OPEN),
            index="gsi1",
            limit=limit,
            start_key=start,
            filter_expression=_IN_FORCE,
            names={"#since": "since", "#until": "until"},
            values={":at": moment},
        )
