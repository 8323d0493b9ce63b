"""Findings (governed: changed through units of work), their per-model counts, and the
compliance scans' progress records (operational).

A finding sits in gsi1 under its status (`T#<t>#FINDINGS#<status>`), sorted by model then
id, so "open findings of this model" is one Query of one partition. Each model has one
summary item counting its open findings by severity, its accepted ones and its blocking
ones (open critical or high, on the model or on one of its versions); a finding's change
moves the counts in the same transaction. A read that needs the counts of a page of models
takes them in one BatchGetItem, and a decision or production deployment checks, in its own
transaction, that nothing blocks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]
INDEX_KEYS = ("pk", "sk", "gsi1pk", "gsi1sk")
SCAN_RETENTION_SECONDS = 90 * 86_400
SEVERITIES = ("critical", "high", "medium", "low")


def blocking_counter(version_number: int | None) -> str:
    """The summary's counter of blocking findings on the model (None) or on a version."""
    return "blocking_model" if version_number is None else f"blocking_v{version_number:06d}"


class Findings:
    """The findings and scans of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys
        self.tenant_id = tenant_keys.tenant_id

    # --- findings ------------------------------------------------------------------------

    def _item(self, finding: Item) -> Item:
        by_status = {
            "gsi1pk": self.keys.findings_by_status(finding["status"]),
            "gsi1sk": f"{finding['model_id']}#{finding['id']}",
        }
        return {
            **self.keys.finding(finding["id"]),
            "tenant_id": self.tenant_id,
            **finding,
            **by_status,
        }

    def get(self, finding_id: str) -> Item | None:
        return dynamo.get(self.keys.finding(finding_id))

    def get_many(self, finding_ids: list[str]) -> dict[str, Item]:
        """The tenant's findings among `finding_ids` (up to 100), by id, in one BatchGetItem."""
        found = dynamo.batch_get([self.keys.finding(i) for i in dict.fromkeys(finding_ids)])
        return {item["id"]: item for item in found}

    def put_new(self, finding: Item) -> dict[str, Any]:
        """Create a finding (fails if its id exists: a concurrent scan made it first)."""
        return dynamo.put_op(self._item(finding), "attribute_not_exists(pk)")

    def put_replace(self, finding: Item, expected_revision: int) -> dict[str, Any]:
        """Replace a finding if nobody changed it since `expected_revision` was read."""
        return dynamo.put_op(
            self._item(finding),
            "#rev = :rev",
            names={"#rev": "revision"},
            values={":rev": expected_revision},
        )

    def list_page(
        self,
        limit: int,
        start: dict[str, Any] | None,
        *,
        status: str | None = None,
        severity: str | None = None,
        rule: str | None = None,
        model_id: str | None = None,
    ) -> Page:
        """A page of the tenant's findings: of one status from gsi1 (of one model: a prefix
        of its sort key), else of the whole partition in id order; severity and rule (and
        the model, without a status) filter."""
        clauses: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        for attr, value in (("severity", severity), ("rule", rule)):
            if value is not None:
                clauses.append(f"#{attr} = :{attr}")
                names[f"#{attr}"], values[f":{attr}"] = attr, value
        if status is not None:
            return dynamo.query(
                partition=("gsi1pk", self.keys.findings_by_status(status)),
                sort_prefix=("gsi1sk", f"{model_id}#") if model_id else None,
                index="gsi1",
                limit=limit,
                start_key=start,
                filter_expression=" AND ".join(clauses) or None,
                names=names or None,
                values=values or None,
            )
        if model_id is not None:
            clauses.append("#model = :model")
            names["#model"], values[":model"] = "model_id", model_id
        return dynamo.query(
            partition=("pk", self.keys.findings),
            limit=limit,
            start_key=start,
            filter_expression=" AND ".join(clauses) or None,
            names=names or None,
            values=values or None,
        )

    def open_blocking(self, model_id: str, version_number: int) -> list[Item]:
        """The open critical and high findings on a model or on its version `version_number`
        (one Query; only read to name them, once the summary said there are some)."""
        items, _ = dynamo.query(
            partition=("gsi1pk", self.keys.findings_by_status("open")),
            sort_prefix=("gsi1sk", f"{model_id}#"),
            index="gsi1",
            limit=100,
            filter_expression=(
                "#sev IN (:critical, :high) AND (attribute_not_exists(#n) OR #n = :n)"
            ),
            names={"#sev": "severity", "#n": "version_number"},
            values={":critical": "critical", ":high": "high", ":n": version_number},
        )
        return items

    def mark_seen(self, finding_ids: list[str], at: str, scan_id: str) -> None:
        """Note that scan `scan_id` saw these findings' conditions again (bookkeeping,
        outside the chain: nothing about them changed), up to 100 a TransactWriteItems, so a
        scan that only sees its findings again pays a call per hundred, not per finding."""
        for start in range(0, len(finding_ids), 100):
            dynamo.transact(
                dynamo.update_op(
                    self.keys.finding(finding_id),
                    "SET #seen = :at, #scan = :scan",
                    "attribute_exists(pk)",
                    names={"#seen": "last_seen_at", "#scan": "last_scan_id"},
                    values={":at": at, ":scan": scan_id},
                )
                for finding_id in finding_ids[start : start + 100]
            )

    # --- per-model counts --------------------------------------------------------------

    def count_op(self, model_id: str, deltas: Mapping[str, int]) -> dict[str, Any] | None:
        """Move a model's counts by `deltas` (creating its summary at zero); None when
        nothing moves."""
        if not deltas:
            return None
        names = {f"#c{i}": name for i, name in enumerate(deltas)}
        values: dict[str, Any] = {f":d{i}": delta for i, delta in enumerate(deltas.values())}
        values[":model"] = model_id
        update = "SET #model = :model ADD " + ", ".join(f"#c{i} :d{i}" for i in range(len(deltas)))
        names["#model"] = "model_id"
        return dynamo.update_op(
            self.keys.finding_summary(model_id), update, names=names, values=values
        )

    def summaries(self, model_ids: list[str]) -> dict[str, Item]:
        """The counts of each of `model_ids` that has any (one BatchGetItem per 100)."""
        unique = list(dict.fromkeys(model_ids))
        found: dict[str, Item] = {}
        for start in range(0, len(unique), 100):
            keys: list[Mapping[str, str]] = [
                self.keys.finding_summary(m) for m in unique[start : start + 100]
            ]
            for item in dynamo.batch_get(keys):
                found[str(item["sk"])] = item
        return found

    def summary_key(self, model_id: str) -> dict[str, str]:
        return self.keys.finding_summary(model_id)

    def check_unblocked(self, model_id: str, version_number: int) -> dict[str, Any]:
        """A condition check: no open critical or high finding on the model or the version
        (a finding opened concurrently fails the change that checked it)."""
        model_counter, version_counter = blocking_counter(None), blocking_counter(version_number)
        return dynamo.check_op(
            self.keys.finding_summary(model_id),
            "(attribute_not_exists(#m) OR #m <= :zero)"
            " AND (attribute_not_exists(#v) OR #v <= :zero)",
            names={"#m": model_counter, "#v": version_counter},
            values={":zero": 0},
        )

    # --- scans (operational) -----------------------------------------------------------

    def put_scan(self, scan: Item, expires_at: int) -> bool:
        """Create a scan's record; False when it exists (a redelivered start)."""
        item = {**self.keys.scan(scan["id"]), "tenant_id": self.tenant_id, **scan}
        return dynamo.put_if({**item, "expires_at": expires_at}, "attribute_not_exists(pk)")

    def put_scan_op(self, scan: Item, expires_at: int) -> dict[str, Any]:
        """The same, as an operation of the unit of work that requests the scan."""
        item = {**self.keys.scan(scan["id"]), "tenant_id": self.tenant_id, **scan}
        return dynamo.create_op(self.keys.scan(scan["id"]), {**item, "expires_at": expires_at})

    def get_scan(self, scan_id: str) -> Item | None:
        return dynamo.get(self.keys.scan(scan_id))

    def save_scan(self, scan: Item) -> None:
        """Write a scan's progress (its status, phase and counts) over what was there."""
        item = {**self.keys.scan(scan["id"]), "tenant_id": self.tenant_id, **scan}
        dynamo.put_if(item, "attribute_exists(pk)")

    def list_scans_page(self, limit: int, start: dict[str, Any] | None) -> Page:
        """A page of the tenant's scans, newest first."""
        return dynamo.query(
            partition=("pk", self.keys.scans), limit=limit, start_key=start, forward=False
        )


def counts(finding: Mapping[str, Any] | None) -> dict[str, int]:
    """What one finding adds to its model's summary."""
    if finding is None:
        return {}
    status, severity = finding.get("status"), str(finding.get("severity"))
    if status == "accepted":
        return {"accepted": 1}
    if status != "open":
        return {}
    added = {f"open_{severity}": 1}
    if severity in ("critical", "high"):
        added[blocking_counter(finding.get("version_number"))] = 1
    return added


def count_deltas(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, int]:
    """How a finding's change from `before` to `after` moves its model's summary."""
    old, new = counts(before), counts(after)
    return {
        k: new.get(k, 0) - old.get(k, 0) for k in {*old, *new} if new.get(k, 0) != old.get(k, 0)
    }
