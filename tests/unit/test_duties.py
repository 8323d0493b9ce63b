"""Separation of duties, case by case, over plain facts (no store, no HTTP)."""

from __future__ import annotations

import pytest

from chalicelib.domain import duties
from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.domain.roles import Role
from chalicelib.errors import ConflictError, ForbiddenError

OWNER, DEV, FORMER, OUTSIDER, SUBMITTER = "prn_owner", "prn_dev", "prn_former", "prn_out", "prn_sub"
TEAM = {OWNER, DEV}
PAST = [OWNER, DEV, FORMER]


def person(principal_id: str, *roles: Role, issuer: str | None = "self") -> Actor:
    """A principal with `roles`, acting with a key `issuer` issued (`self`: its own)."""
    issued_by = principal_id if issuer == "self" else issuer
    return Actor.of_principal("req", "ten_1", principal_id, "key_1", frozenset(roles), issued_by)


WORKFLOW = Actor.of_system(SystemPart.WORKFLOW, "msg", "ten_1")


def test_the_team_is_the_owner_and_the_developers() -> None:
    assert duties.team(OWNER, [DEV, OWNER]) == {OWNER, DEV}


@pytest.mark.parametrize(
    "actor, allowed",
    [
        (person(DEV, Role.DEVELOPER), True),
        (person(OWNER, Role.DEVELOPER, Role.VALIDATOR), True),
        (person(DEV, Role.VALIDATOR), False),  # on the team, but not a developer now
        (person(OUTSIDER, Role.DEVELOPER), False),  # a developer, not on the team
        (person(FORMER, Role.DEVELOPER), False),  # was on the team, is no more
        (WORKFLOW, False),  # a system part is on no team
    ],
    ids=["developer", "owner", "team-validator", "outside-dev", "former", "system"],
)
def test_only_developers_on_the_team_edit_the_model(actor: Actor, allowed: bool) -> None:
    if allowed:
        duties.require_team_developer(actor, TEAM, "edit")
    else:
        with pytest.raises(ForbiddenError, match="only the model's team"):
            duties.require_team_developer(actor, TEAM, "edit")


@pytest.mark.parametrize(
    "actor, refusal",
    [
        (person(OUTSIDER, Role.VALIDATOR), None),
        (person(OUTSIDER, Role.APPROVER), None),
        (person(OUTSIDER, Role.DEVELOPER), "only validators or approvers"),
        (person(OUTSIDER, Role.ADMIN, Role.AUDITOR), "only validators or approvers"),
        (person(DEV, Role.DEVELOPER, Role.VALIDATOR), "you are on the model's team"),
        (person(OWNER, Role.APPROVER), "you are on the model's team"),
        (person(FORMER, Role.VALIDATOR), "you have been on the model's team"),
        (WORKFLOW, "only validators or approvers"),
    ],
    ids=[
        "validator",
        "approver",
        "developer",
        "admin",
        "team-validator",
        "owner-approver",
        "former",
        "system",
    ],
)
def test_only_independent_judges_classify(actor: Actor, refusal: str | None) -> None:
    if refusal is None:
        duties.require_independent_judge(actor, TEAM, PAST)
    else:
        with pytest.raises(ForbiddenError, match=refusal):
            duties.require_independent_judge(actor, TEAM, PAST)


def decide(actor: Actor, stage: int = 1, decided: dict[int, set[str]] | None = None) -> None:
    duties.require_stage_decider(
        actor,
        stage=stage,
        stage_role=Role.APPROVER,
        submitter_id=SUBMITTER,
        members=TEAM,
        past_team=PAST,
        deciders_by_stage=decided or {},
    )


@pytest.mark.parametrize(
    "actor, decided, error, match",
    [
        (person(OUTSIDER, Role.APPROVER), {}, None, None),
        (person(OUTSIDER, Role.VALIDATOR), {}, ForbiddenError, "decided by the approver"),
        (person(SUBMITTER, Role.APPROVER), {}, ForbiddenError, "submitter"),
        (person(DEV, Role.APPROVER), {}, ForbiddenError, "team, past or present"),
        (person(FORMER, Role.APPROVER), {}, ForbiddenError, "team, past or present"),
        (person(OUTSIDER, Role.APPROVER), {1: {OUTSIDER}}, ConflictError, "already decided"),
        (person(OUTSIDER, Role.APPROVER), {0: {OUTSIDER}}, ForbiddenError, "two stages"),
        (person(OUTSIDER, Role.APPROVER), {0: {"prn_x"}, 1: {"prn_y"}}, None, None),
        (WORKFLOW, {}, ForbiddenError, "decided by the approver"),
    ],
    ids=[
        "independent",
        "wrong-role",
        "submitter",
        "team",
        "former-team",
        "twice",
        "two-stages",
        "others-decided",
        "system",
    ],
)
def test_who_may_decide_a_stage(
    actor: Actor,
    decided: dict[int, set[str]],
    error: type[Exception] | None,
    match: str | None,
) -> None:
    if error is None:
        decide(actor, decided=decided)
    else:
        with pytest.raises(error, match=match):
            decide(actor, decided=decided)
    # AND the deciders an opened stage names follow the same rule
    facts = duties.StageFacts(1, Role.APPROVER, SUBMITTER, TEAM, PAST, decided)
    if actor.is_principal:
        assert duties.may_decide(str(actor.principal_id), actor.roles, facts) is (error is None)


def test_one_person_with_two_keys_is_still_one_person() -> None:
    first = Actor.of_principal("r1", "ten_1", OUTSIDER, "key_a", frozenset({Role.APPROVER}))
    second = Actor.of_principal("r2", "ten_1", OUTSIDER, "key_b", frozenset({Role.APPROVER}))
    decide(first)
    with pytest.raises(ForbiddenError, match="two stages"):
        decide(second, stage=2, decided={1: {str(first.principal_id)}})


@pytest.mark.parametrize(
    "actor, refusal",
    [
        (person(OUTSIDER, Role.APPROVER), None),
        (person(OUTSIDER, Role.APPROVER, issuer="prn_admin"), "issued by principal prn_admin"),
        (person(OUTSIDER, Role.APPROVER, issuer="platform"), "issued by the platform, not by you"),
        (person(OUTSIDER, Role.APPROVER, issuer=None), "predates issuer records"),
        (Actor.platform_operator("req"), "only a principal"),
        (WORKFLOW, "only a principal"),
    ],
    ids=["own", "admin-issued", "platform-issued", "unrecorded", "platform", "system"],
)
def test_only_a_key_its_principal_issued_or_rotated_itself_may_judge(
    actor: Actor, refusal: str | None
) -> None:
    if refusal is None:
        duties.require_own_key(actor, "classify a model")
    else:
        with pytest.raises(ForbiddenError, match=refusal):
            duties.require_own_key(actor, "classify a model")


def test_a_refused_key_is_told_what_it_could_not_do_and_how_to_rotate_it() -> None:
    actor = person(OUTSIDER, Role.APPROVER, issuer="prn_admin")
    with pytest.raises(ForbiddenError) as refused:
        duties.require_own_key(actor, "decide an approval stage")
    assert "cannot decide an approval stage" in str(refused.value)
    assert "POST /v1/me/api-keys/key_1/rotate" in str(refused.value)
