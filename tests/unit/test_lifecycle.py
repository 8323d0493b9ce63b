"""The version lifecycle: every transition of the table, and every one that is not."""

from __future__ import annotations

import itertools

import pytest

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
