"""The version lifecycle: every transition of the table, and every one that is not; and the
risk tier the policy applies."""

from __future__ import annotations

import itertools
from typing import NamedTuple

import pytest

from chalicelib.domain import lifecycle
from chalicelib.domain.lifecycle import (
    NEW,
    TRANSITIONS,
    Mover,
    VersionStatus,
    allowed,
    require_editable,
    transition,
)
from chalicelib.errors import ConflictError

S, M = VersionStatus, Mover

# The table as the architecture document states it, written out independently of the code.
EXPECTED = {
    (NEW, S.DRAFT): {M.TEAM},
    (S.DRAFT, S.SUBMITTED): {M.TEAM},
    (S.SUBMITTED, S.APPROVED): {M.WORKFLOW},
    (S.SUBMITTED, S.REJECTED): {M.WORKFLOW},
    (S.SUBMITTED, S.DRAFT): {M.SUBMITTER, M.WORKFLOW},
    (S.REJECTED, S.DRAFT): {M.TEAM},
    (S.APPROVED, S.REJECTED): {M.WORKFLOW},
    (S.DRAFT, S.RETIRED): {M.TEAM, M.ADMIN},
    (S.REJECTED, S.RETIRED): {M.TEAM, M.ADMIN},
    (S.APPROVED, S.RETIRED): {M.TEAM, M.ADMIN},
}
STATES = [NEW, *VersionStatus]
EVERY_MOVE = [
    (current, target, mover)
    for current, target in itertools.product(STATES, VersionStatus)
    for mover in Mover
]


def test_the_transition_table_is_exactly_the_documented_one() -> None:
    assert {k: set(v) for k, v in TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize(
    "current, target, mover",
    EVERY_MOVE,
    ids=[f"{c or 'new'}->{t} by {m}" for c, t, m in EVERY_MOVE],
)
def test_each_mover_may_take_a_version_only_where_the_table_says(
    current: VersionStatus | None, target: VersionStatus, mover: Mover
) -> None:
    permitted = mover in EXPECTED.get((current, target), set())
    assert allowed(current, target, mover) is permitted
    if permitted:
        assert transition(current, target, {mover}) is target
    else:
        with pytest.raises(ConflictError, match=r"cannot become|may move"):
            transition(current, target, {mover})


def test_a_retired_version_goes_nowhere() -> None:
    for target, mover in itertools.product(VersionStatus, Mover):
        assert not allowed(S.RETIRED, target, mover)


def test_an_actor_in_several_capacities_moves_by_any_of_them() -> None:
    assert transition(S.SUBMITTED, S.DRAFT, {M.TEAM, M.SUBMITTER}) is S.DRAFT
    with pytest.raises(ConflictError, match="only the submitter or workflow"):
        transition(S.SUBMITTED, S.DRAFT, {M.TEAM, M.ADMIN})


@pytest.mark.parametrize("status", list(VersionStatus))
def test_only_drafts_are_editable(status: VersionStatus) -> None:
    if status is S.DRAFT:
        require_editable(status, 3, "change")
    else:
        with pytest.raises(ConflictError, match=f"version 3 is {status}; only drafts change"):
            require_editable(status, 3, "change")


@pytest.mark.parametrize(
    ("risk_tier", "confirmed", "in_force"),
    [(1, False, 1), (2, False, 1), (3, False, 1), (1, True, 1), (2, True, 2), (3, True, 3)],
)
def test_the_policy_applies_the_confirmed_tier_and_tier_1_until_one_is_confirmed(
    risk_tier: int, confirmed: bool, in_force: int
) -> None:
    class Proposed(NamedTuple):
        risk_tier: int
        risk_tier_confirmed: bool

    assert lifecycle.policy_tier(Proposed(risk_tier, confirmed)) == in_force
    assert lifecycle.tier_in_force(risk_tier, confirmed) == in_force


def test_a_model_shows_the_tier_in_force_whatever_was_stored() -> None:
    from chalicelib.domain.models import Model

    stored = {
        "id": "mdl_1",
        "name": "m",
        "purpose": "p",
        "owner_id": "prn_1",
        "developer_ids": ["prn_1"],
        "risk_tier": 3,
        "regulatory_scope": [],
        "status": "in_development",
        "version_count": 0,
        "created_by": "prn_1",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "revision": 1,
        "risk_tier_in_force": 3,  # a wrong stored value does not survive
    }
    assert Model.model_validate(stored).risk_tier_in_force == 1
    confirmed = Model.model_validate({**stored, "risk_tier_confirmed": True})
    assert lifecycle.policy_tier(confirmed) == 3 == confirmed.risk_tier_in_force
