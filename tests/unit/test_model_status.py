"""Which versions may retire, and the model's status derived from its counts: pure rules."""

from __future__ import annotations

import pytest

from chalicelib.domain import lifecycle
from chalicelib.domain.deployments import Environment, Standing, model_status
from chalicelib.domain.models import ModelStatus
from chalicelib.errors import ConflictError

V = lifecycle.VersionStatus
Mover = lifecycle.Mover


def test_drafts_rejected_and_approved_versions_may_retire_and_no_other() -> None:
    assert frozenset({V.DRAFT, V.REJECTED, V.APPROVED}) == lifecycle.RETIRABLE
    assert [s for s in V if lifecycle.retirable(s)] == [V.DRAFT, V.APPROVED, V.REJECTED]


@pytest.mark.parametrize("status", [V.SUBMITTED, V.RETIRED])
def test_a_submitted_or_retired_version_cannot_be_retired_by_anyone(status: V) -> None:
    with pytest.raises(ConflictError, match=f"a {status} version cannot become retired"):
        lifecycle.transition(status, V.RETIRED, set(Mover))


def test_the_workflow_does_not_retire_versions() -> None:
    with pytest.raises(ConflictError, match="only the admin or team may move"):
        lifecycle.transition(V.APPROVED, V.RETIRED, {Mover.WORKFLOW})


@pytest.mark.parametrize(
    ("standing", "status"),
    [
        (Standing(versions=0, approved=0, retired=0, production=0), ModelStatus.IN_DEVELOPMENT),
        (Standing(versions=2, approved=0, retired=1, production=0), ModelStatus.IN_DEVELOPMENT),
        (Standing(versions=2, approved=1, retired=1, production=0), ModelStatus.APPROVED),
        (Standing(versions=2, approved=0, retired=2, production=0), ModelStatus.RETIRED),
        (Standing(versions=2, approved=1, retired=0, production=1), ModelStatus.IN_PRODUCTION),
        # a version rejected on revalidation may still run: production wins
        (Standing(versions=1, approved=0, retired=0, production=1), ModelStatus.IN_PRODUCTION),
    ],
)
def test_the_model_status_follows_production_then_approval_then_retirement(
    standing: Standing, status: ModelStatus
) -> None:
    assert model_status(standing) is status


def test_counts_follow_a_version_through_approval_and_retirement() -> None:
    start = Standing(versions=1, approved=0, retired=0, production=0)
    approved = start.moved(V.SUBMITTED, V.APPROVED)
    assert approved == Standing(1, 1, 0, 0) and model_status(approved) is ModelStatus.APPROVED
    retired = approved.moved(V.APPROVED, V.RETIRED)
    assert retired == Standing(1, 0, 1, 0) and model_status(retired) is ModelStatus.RETIRED
    assert start.moved(V.DRAFT, V.SUBMITTED) == start


def test_only_production_deployments_count() -> None:
    start = Standing(versions=1, approved=1, retired=0, production=0)
    assert start.deployed(Environment.STAGING, +1) == start
    deployed = start.deployed(Environment.PRODUCTION, +1)
    assert model_status(deployed) is ModelStatus.IN_PRODUCTION
    assert deployed.deployed(Environment.PRODUCTION, -1) == start
