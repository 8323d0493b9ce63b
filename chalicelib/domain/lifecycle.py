"""The version lifecycle as data, and the one pure function that applies it; and the risk
tier the approval policy applies to a model.

| from | to | by |
|---|---|---|
| (new) | draft | the model's team registers it |
| draft | submitted | the model's team submits it (an approval request is created) |
| submitted | approved | the workflow: every stage reached quorum |
| submitted | rejected | the workflow: any reject |
| submitted | draft | the submitter cancels, or the workflow expires the request |
| rejected | draft | the model's team reopens it to fix documentation |
| approved | rejected | the workflow: a revalidation request is rejected |
| draft, rejected, approved | retired | the model's team or an admin |
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from chalicelib.errors import ConflictError


class VersionStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETIRED = "retired"


class Mover(StrEnum):
    """Who moves a version: the kinds of actor the lifecycle table names."""

    TEAM = "team"  # the model's owner and developers
    SUBMITTER = "submitter"  # the principal who submitted the pending request
    ADMIN = "admin"
    WORKFLOW = "workflow"  # the approval workflow, applying a stage outcome or a deadline


NEW = None  # the state of a version not yet registered
S = VersionStatus

TRANSITIONS: dict[tuple[VersionStatus | None, VersionStatus], frozenset[Mover]] = {
    (NEW, S.DRAFT): frozenset({Mover.TEAM}),
    (S.DRAFT, S.SUBMITTED): frozenset({Mover.TEAM}),
    (S.SUBMITTED, S.APPROVED): frozenset({Mover.WORKFLOW}),
    (S.SUBMITTED, S.REJECTED): frozenset({Mover.WORKFLOW}),
    (S.SUBMITTED, S.DRAFT): frozenset({Mover.SUBMITTER, Mover.WORKFLOW}),
    (S.REJECTED, S.DRAFT): frozenset({Mover.TEAM}),
    (S.APPROVED, S.REJECTED): frozenset({Mover.WORKFLOW}),
    (S.DRAFT, S.RETIRED): frozenset({Mover.TEAM, Mover.ADMIN}),
    (S.REJECTED, S.RETIRED): frozenset({Mover.TEAM, Mover.ADMIN}),
    (S.APPROVED, S.RETIRED): frozenset({Mover.TEAM, Mover.ADMIN}),
}

# What a version in each state accepts besides moving: only drafts are edited and take
# artifacts (submission freezes them).
EDITABLE = frozenset({S.DRAFT})
# The states a version may be retired from: read from the table, so the two never disagree.
RETIRABLE = frozenset(start for start, end in TRANSITIONS if end is S.RETIRED and start is not None)


def allowed(current: VersionStatus | None, target: VersionStatus, mover: Mover) -> bool:
    """Whether `mover` may move a version from `current` to `target`."""
    return mover in TRANSITIONS.get((current, target), frozenset())


def retirable(status: VersionStatus) -> bool:
    """Whether a version in `status` may be retired (a submitted one is cancelled first)."""
    return status in RETIRABLE


def transition(
    current: VersionStatus | None, target: VersionStatus, movers: set[Mover]
) -> VersionStatus:
    """`target`, if any of `movers` may take a version there from `current`; else 409.

    `movers` are all the capacities the actor has here (a developer on the team who also
    submitted the request is both TEAM and SUBMITTER)."""
    permitted = TRANSITIONS.get((current, target))
    if permitted is None:
        where = "a new version" if current is None else f"a {current} version"
        raise ConflictError(f"{where} cannot become {target}")
    if not permitted & movers:
        who = " or ".join(sorted(permitted))
        raise ConflictError(f"only the {who} may move a {current} version to {target}")
    return target


def require_editable(status: VersionStatus, number: int, doing: str) -> None:
    """409 unless a version in `status` may still be changed (`doing` says how)."""
    if status not in EDITABLE:
        raise ConflictError(f"version {number} is {status}; only drafts {doing}")


# --- the tier in force ---------------------------------------------------------------

# The tier a model is treated as until a validator or approver outside its team confirms
# one: the heaviest process, so an unconfirmed proposal never buys a lighter one.
UNCONFIRMED_TIER = 1


class Tiered(Protocol):
    """What the tier in force is read from (a Model)."""

    @property
    def risk_tier(self) -> int: ...

    @property
    def risk_tier_confirmed(self) -> bool: ...


def tier_in_force(risk_tier: int, confirmed: bool) -> int:
    """The confirmed tier; tier 1 while the tier is only the registrant's proposal."""
    return risk_tier if confirmed else UNCONFIRMED_TIER


def policy_tier(model: Tiered) -> int:
    """The tier whose stages the approval policy applies to `model` (its tier in force)."""
    return tier_in_force(model.risk_tier, model.risk_tier_confirmed)
