"""Inventory rows for a page of models: what the SR 11-7 inventory shows of each, read in
a few BatchGetItems for the whole page (never a request per model).

For a page: every version of its models (to find each one's current approved version:
its approval, revalidation and due date), the approval requests of those versions (who
decided their validator stages), the principals the rows name (owner, developers,
validators), the models' finding counts (open by severity, accepted: the findings store's
per-model summaries), and, unless the caller says what ran in production (a point in time), the
open production deployments of the page's models (one Query of the open end of the
tenant's production history).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.lifecycle import tier_in_force
from chalicelib.domain.roles import Role
from chalicelib.store.findings import SEVERITIES
from chalicelib.store.scope import TenantStore

Item = dict[str, Any]


def rows(
    store: TenantStore,
    models: Sequence[Item],
    production: Mapping[str, list[Item]] | None = None,
) -> list[Item]:
    """The inventory rows of `models` (stored items), in their order, as JSON-ready dicts
    (`domain.reports.InventoryRow`'s fields). `production`: the production deployments
    to show per model id (what ran at a point in time); None reads those open now."""
    if not models:
        return []
    reads = store.reports
    counts = {m["id"]: int(m.get("version_count") or 0) for m in models}
    approved = _current_approved(reads.versions(counts))
    requests = [v["approval"]["request_id"] for v in approved.values() if v.get("approval")]
    validators = _validators(reads.approval_stages(requests))
    if production is None:
        in_production = [m["id"] for m in models if int(m.get("production_deployments") or 0)]
        production = by_model(reads.open_production(in_production) if in_production else [])
    named = {p for m in models for p in (m["owner_id"], *m.get("developer_ids", []))}
    named |= {p for ids in validators.values() for p in ids}
    people = {p["id"]: p for p in reads.principals(sorted(named))}
    findings = store.findings.summaries([m["id"] for m in models])
    found = []
    for model in models:
        version = approved.get(model["id"])
        request_id = ((version or {}).get("approval") or {}).get("request_id")
        found.append(
            _row(
                model,
                version,
                [_person(people, p) for p in validators.get(request_id or "", [])],
                production.get(model["id"], []),
                people,
            )
            | _findings(findings.get(model["id"], {}))
        )
    return found


def _row(
    model: Item,
    version: Item | None,
    validators: list[Item],
    deployments: list[Item],
    people: Mapping[str, Item],
) -> Item:
    approval = (version or {}).get("approval") or {}
    validated = (approval.get("approved_at"), (version or {}).get("revalidated_at"))
    deployed = sorted(deployments, key=lambda d: (d["version_number"], d["since"], d["id"]))
    return {
        "id": model["id"],
        "name": model["name"],
        "purpose": model["purpose"],
        "intended_use": model.get("intended_use"),
        "restrictions": model.get("restrictions"),
        "risk_tier": tier_in_force(
            int(model["risk_tier"]), bool(model.get("risk_tier_confirmed", False))
        ),
        "regulatory_scope": list(model.get("regulatory_scope") or []),
        "business_unit": model.get("business_unit"),
        "status": model["status"],
        "owner": _person(people, model["owner_id"]),
        "developers": [_person(people, p) for p in model.get("developer_ids", [])],
        "validators": validators,
        "version_count": int(model.get("version_count") or 0),
        "approved_version": version["number"] if version else None,
        "last_validated_at": max((t for t in validated if t), default=None),
        "next_validation_due_at": (version or {}).get("revalidation_due_at"),
        "production_versions": sorted({d["version_number"] for d in deployed}),
        "production_deployments": [
            {
                "version_number": d["version_number"],
                "deployment_id": d["id"],
                "target": d["target"],
                "since": d["since"],
                "until": d.get("until"),
            }
            for d in deployed
        ],
    }


def _findings(summary: Mapping[str, Any]) -> Item:
    """A model's open findings by severity and its accepted ones, from its counts."""
    open_ = {s: max(0, int(summary.get(f"open_{s}") or 0)) for s in SEVERITIES}
    return {
        "open_findings": open_,
        "accepted_exceptions": max(0, int(summary.get("accepted") or 0)),
    }


def _current_approved(versions: Sequence[Item]) -> dict[str, Item]:
    """Each model's highest approved version."""
    found: dict[str, Item] = {}
    for version in versions:
        if version.get("status") != "approved":
            continue
        best = found.get(version["model_id"])
        if best is None or version["number"] > best["number"]:
            found[version["model_id"]] = version
    return found


def _validators(requests: Sequence[Item]) -> dict[str, list[str]]:
    """Per request id, who decided its validator stages, in the order they decided."""
    found: dict[str, list[str]] = {}
    for request in requests:
        deciders = [
            decision["principal_id"]
            for stage in request.get("stages", [])
            if stage.get("role") == Role.VALIDATOR
            for decision in stage.get("decisions", [])
        ]
        found[request["id"]] = list(dict.fromkeys(deciders))
    return found


def by_model(deployments: Sequence[Item]) -> dict[str, list[Item]]:
    """Deployments grouped by their model's id."""
    found: dict[str, list[Item]] = defaultdict(list)
    for deployment in deployments:
        found[deployment["model_id"]].append(deployment)
    return found


def _person(people: Mapping[str, Item], principal_id: str) -> Item:
    known = people.get(principal_id, {})
    return {
        "id": principal_id,
        "name": known.get("name", principal_id),
        "email": known.get("email"),
    }
