"""The compliance scan's rules, as pure functions from what a scan read to what it saw.

Each function takes records already read (a model, a version, a deployment, a request,
the latest objects in S3 of a version's artifacts) and returns the observations they
raise (`findings.Observation`): a rule id from `findings.RULES`, the subject, a severity
and a message a model-risk officer can act on. No I/O here: the scan
(`services/scan.py`) reads a page, calls these, and upserts what they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.findings import (
    REVALIDATION_WARNING_DAYS,
    RULES,
    STUCK_GRACE_SECONDS,
    Observation,
)
from chalicelib.domain.severity import Severity

# What the scan knows of an artifact's object in S3: its current version id, or None when
# the key's latest version is a delete marker or the key is not there at all.
Objects = Mapping[str, str | None]


def _observe(
    rule: str,
    model_id: str,
    number: int | None,
    message: str,
    *,
    key: str = "",
    severity: Severity | None = None,
    facts: dict[str, Any] | None = None,
) -> Observation:
    chosen = severity or RULES[rule].severity
    if chosen is None:  # a rule without its own severity takes the caller's
        raise ValueError(f"rule {rule} needs a severity")
    return Observation(rule, model_id, number, chosen, message, key, facts or {})


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def approved_version(
    version: Mapping[str, Any], model: Mapping[str, Any], required: list[str], now: datetime
) -> list[Observation]:
    """An approved version: its approval has not lapsed, its revalidation is not overdue
    (nor due within 30 days: a warning), and its model card has every field the policy
    requires for the model's tier and scopes (`required`)."""
    found: list[Observation] = []
    model_id, number = str(version["model_id"]), int(version["number"])
    approval = version.get("approval") or {}
    expires = _when(approval.get("expires_at"))
    if expires is not None and expires <= now:
        found.append(
            _observe(
                "approval.expired",
                model_id,
                number,
                f"the approval of version {number} lapsed at {expires.isoformat()}",
                facts={"expired_at": expires.isoformat()},
            )
        )
    due = _when(version.get("revalidation_due_at"))
    if due is not None and due <= now:
        found.append(
            _observe(
                "revalidation.overdue",
                model_id,
                number,
                f"the revalidation of version {number} was due at {due.isoformat()}",
                facts={"due_at": due.isoformat()},
            )
        )
    elif due is not None and due <= now + timedelta(days=REVALIDATION_WARNING_DAYS):
        found.append(
            _observe(
                "revalidation.due_soon",
                model_id,
                number,
                f"the revalidation of version {number} is due at {due.isoformat()}",
                facts={"due_at": due.isoformat()},
            )
        )
    card = version.get("model_card") or {}
    missing = sorted(f for f in required if not str(card.get(f) or "").strip())
    if missing and model.get("status") != "retired":
        found.append(
            _observe(
                "documentation.incomplete",
                model_id,
                number,
                f"the model card of version {number} lacks {', '.join(missing)}, which the"
                f" policy requires for tier {model.get('risk_tier_in_force')}",
                facts={"missing": missing},
            )
        )
    return found


def approved_artifacts(version: Mapping[str, Any], objects: Objects) -> list[Observation]:
    """Each artifact the approval recorded whose object in S3 is missing, or is another
    object version than the approved one (S3 versions are immutable: a new version id is
    new bytes, whatever its digest)."""
    found: list[Observation] = []
    model_id, number = str(version["model_id"]), int(version["number"])
    for artifact in (version.get("approval") or {}).get("artifacts") or []:
        name, approved = str(artifact["name"]), artifact.get("s3_version_id")
        current = objects.get(name)
        if approved is None:
            problem = "the approval recorded no object version for it"
        elif current is None:
            problem = "its object was deleted from S3 after the approval"
        elif current != approved:
            problem = f"its object in S3 is version {current}, not the approved {approved}"
        else:
            continue
        found.append(
            _observe(
                "artifact.changed",
                model_id,
                number,
                f"artifact {name} of version {number}: {problem}",
                key=name,
                facts={
                    "artifact": name,
                    "approved_version_id": approved,
                    "current_version_id": current,
                    "approved_sha256": artifact.get("sha256"),
                },
            )
        )
    return found


def production_deployment(
    deployment: Mapping[str, Any], version: Mapping[str, Any] | None, now: datetime
) -> list[Observation]:
    """An open production deployment whose version is not approved, or whose approval has
    lapsed (a deployment recorded before it lapsed, or a version rejected since)."""
    model_id, number = str(deployment["model_id"]), int(deployment["version_number"])
    status = version.get("status") if version else "missing"
    approval = (version or {}).get("approval") or {}
    expires = _when(approval.get("expires_at"))
    if status == "approved" and approval and (expires is None or expires > now):
        return []
    why = (
        f"version {number} is {status}"
        if status != "approved" or not approval
        else f"the approval of version {number} lapsed at {expires.isoformat() if expires else ''}"
    )
    return [
        _observe(
            "deployment.unapproved",
            model_id,
            number,
            f"deployment {deployment['id']} runs in production at {deployment.get('target')}:"
            f" {why}",
            key=str(deployment["id"]),
            facts={
                "deployment_id": deployment["id"],
                "target": deployment.get("target"),
                "version_status": status,
            },
        )
    ]


def stuck_request(request: Mapping[str, Any], now: datetime) -> list[Observation]:
    """A request whose open stage is past its deadline (after escalating, its expiry) by
    more than the grace the workflow needs to act on it: the workflow has stalled."""
    if request.get("status") != "in_review":
        return []
    for stage in request.get("stages") or []:
        deadline = _when(stage.get("deadline"))
        if stage.get("status") != "open" or deadline is None:
            continue
        if deadline + timedelta(seconds=STUCK_GRACE_SECONDS) > now:
            return []
        return [
            _observe(
                "approval.stuck",
                str(request["model_id"]),
                int(request["version_number"]),
                f"approval request {request['id']}'s stage {stage.get('name')} is open past"
                f" its deadline {deadline.isoformat()}",
                key=str(request["id"]),
                facts={"request_id": request["id"], "stage": stage.get("name")},
            )
        ]
    return []


def owner(model: Mapping[str, Any], principal: Mapping[str, Any] | None) -> list[Observation]:
    """A model in use whose owner is not an active principal of the tenant."""
    if model.get("status") == "retired":
        return []
    if principal is not None and principal.get("status") == "active":
        return []
    state = "missing" if principal is None else f"{principal.get('status')}"
    return [
        _observe(
            "owner.inactive",
            str(model["id"]),
            None,
            f"the owner of model {model.get('name')} ({model.get('owner_id')}) is {state}",
            facts={"owner_id": model.get("owner_id"), "owner_status": state},
        )
    ]


def overdue(finding: Mapping[str, Any], now: datetime) -> list[Observation]:
    """An open finding past its due date (findings this rule raised are not counted again)."""
    due = _when(finding.get("due_at"))
    if finding.get("status") != "open" or finding.get("rule") == "finding.overdue":
        return []
    if due is None or due > now:
        return []
    return [
        _observe(
            "finding.overdue",
            str(finding["model_id"]),
            finding.get("version_number"),
            f"finding {finding['id']} ({finding.get('severity')}: {finding.get('title')}) was"
            f" due at {due.isoformat()}",
            key=str(finding["id"]),
            facts={"finding_id": finding["id"], "due_at": due.isoformat()},
        )
    ]


def production_metrics(
    model: Mapping[str, Any],
    number: int,
    summary: Any,
    thresholds: list[Any],
    stale_after_days: int,
    now: datetime,
) -> list[Observation]:
    """A production version: its newest data point is recent enough, and no series' newest
    point breaches a threshold the policy sets for its model and tier. `summary` is the
    version's `MetricSummary`; `thresholds` the policy's `thresholds_for` the model."""
    model_id = str(model["id"])
    found: list[Observation] = []
    last = summary.last_observed_at if summary is not None else None
    if last is None or last < now - timedelta(days=stale_after_days):
        seen = f"its newest data point is from {last.isoformat()}" if last else "it has none"
        found.append(
            _observe(
                "metrics.stale",
                model_id,
                number,
                f"version {number} runs in production and {seen}; the policy wants one within"
                f" {stale_after_days} days",
                facts={"last_observed_at": last.isoformat() if last else None},
            )
        )
    for point in summary.latest if summary is not None else []:
        for threshold in thresholds:
            if threshold.metric != point.name or not threshold.applies_to_segment(point.segment):
                continue
            if not threshold.breached(point.value):
                continue
            where = f" in segment {point.segment}" if point.segment else ""
            found.append(
                _observe(
                    "metric.threshold",
                    model_id,
                    number,
                    f"{point.name}{where} of version {number} is {point.value:g} at"
                    f" {point.observed_at.isoformat()}: {threshold.comparison}"
                    f" {threshold.threshold:g} breaches the policy",
                    key=f"{point.name}#{point.segment or ''}#{threshold.comparison}"
                    f"#{threshold.threshold!r}",
                    severity=Severity(threshold.severity),
                    facts={
                        "metric": point.name,
                        "segment": point.segment,
                        "value": point.value,
                        "observed_at": point.observed_at.isoformat(),
                        "comparison": str(threshold.comparison),
                        "threshold": threshold.threshold,
                    },
                )
            )
    return found
