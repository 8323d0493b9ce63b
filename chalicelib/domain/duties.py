"""Separation of duties: who may do what to a model, as pure functions over plain facts.

"No student grades their own paper": the people who build a model (its team: the owner and
the developers) edit it, and people who have never been on its team judge its risk. The
model keeps `past_team_ids`, everyone who has ever been its owner or a developer (the
registrant included), so handing a model over does not let its author classify it.
Separation of duties compares principals, never keys: one person with two keys is one person.

A judgement must also be made with the judge's own key. An admin may issue a key for anyone,
so a key someone else issued could let that admin judge in its holder's name: only a key its
principal issued or rotated itself (`POST /v1/me/api-keys/{key_id}/rotate`) may classify a
model, decide an approval stage or accept a finding's risk.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import NamedTuple

from chalicelib.domain.actors import Actor
from chalicelib.domain.roles import Role
from chalicelib.errors import ConflictError, CustosError, ForbiddenError

# The role every member of a model's team holds (the owner included).
TEAM_ROLE = Role.DEVELOPER
JUDGES = frozenset({Role.VALIDATOR, Role.APPROVER})


def team(owner_id: str, developer_ids: Iterable[str]) -> set[str]:
    """The model's team: its owner and its developers."""
    return {owner_id, *developer_ids}


def on_team(actor: Actor, members: Collection[str]) -> bool:
    """Whether the actor is a principal among `members` (system parts never are)."""
    return actor.is_principal and actor.principal_id in members


def require_team_developer(actor: Actor, members: Collection[str], doing: str) -> None:
    """403 unless the actor is on the team and holds the developer role."""
    if not on_team(actor, members) or not actor.has_any(TEAM_ROLE):
        raise ForbiddenError(f"only the model's team (developers) may {doing}")


def require_independent_judge(
    actor: Actor, members: Collection[str], past_team: Collection[str]
) -> None:
    """403 unless the actor is a validator or approver who has never been on the team: the
    one who may classify a model (confirm or change its risk tier and regulatory scope)."""
    if not actor.has_any(*JUDGES):
        raise ForbiddenError("only validators or approvers may classify a model")
    if actor.principal_id in set(members):
        raise ForbiddenError(
            "you are on the model's team (its owner or a developer): its risk is classified"
            " by a validator or approver who has never been on the team"
        )
    if on_team(actor, past_team):
        raise ForbiddenError(
            "you have been on the model's team (past_team_ids): its risk is classified by a"
            " validator or approver who has never been on the team"
        )


class StageFacts(NamedTuple):
    """What separation of duties weighs about one stage of one approval request."""

    stage: int
    stage_role: Role
    submitter_id: str
    members: Collection[str]  # the model's team as it is now
    past_team: Collection[str]  # everyone who has been on it (and was at submission)
    deciders_by_stage: Mapping[int, Collection[str]]


def stage_refusal(
    principal_id: str | None, roles: Collection[Role], facts: StageFacts
) -> CustosError | None:
    """Why the principal (None: not a principal) holding `roles` may not decide the stage
    now, or None when it may: the one rule behind `require_stage_decider` and the deciders
    an opened or escalated stage names (`may_decide`)."""
    if principal_id is None or facts.stage_role not in roles:
        return ForbiddenError(f"this stage is decided by the {facts.stage_role} role")
    if principal_id == facts.submitter_id:
        return ForbiddenError("the submitter may not decide their own request")
    if principal_id in set(facts.members) | set(facts.past_team):
        return ForbiddenError("the model's team, past or present, may not decide its approval")
    if principal_id in facts.deciders_by_stage.get(facts.stage, ()):
        return ConflictError("you have already decided this stage")
    for other, deciders in facts.deciders_by_stage.items():
        if other != facts.stage and principal_id in deciders:
            return ForbiddenError("nobody decides two stages of one request")
    return None


def may_decide(principal_id: str, roles: Collection[Role], facts: StageFacts) -> bool:
    """Whether a principal holding `roles` may decide the stage now (see `stage_refusal`)."""
    return stage_refusal(principal_id, roles, facts) is None


def require_stage_decider(
    actor: Actor,
    *,
    stage: int,
    stage_role: Role,
    submitter_id: str,
    members: Collection[str],
    past_team: Collection[str],
    deciders_by_stage: Mapping[int, Collection[str]],
) -> None:
    """Whether the actor may decide `stage` of an approval request.

    The stage's role decides; never the submitter, the model's team or anyone who has been
    on it; nobody decides two stages of one request, and each decides a stage once (409)."""
    facts = StageFacts(stage, stage_role, submitter_id, members, past_team, deciders_by_stage)
    who = actor.principal_id if actor.is_principal else None
    refusal = stage_refusal(who, actor.roles, facts)
    if refusal is not None:
        raise refusal


ROTATE_ROUTE = "POST /v1/me/api-keys/{key_id}/rotate"


def require_own_key(actor: Actor, act: str) -> None:
    """403 unless the actor is a principal acting with a key it issued or rotated itself.

    `act` says what it was about to do (`classify a model`, `decide an approval stage`).
    A key with no recorded issuer (issued before keys recorded one) counts as someone
    else's: rotating it once makes it the principal's own."""
    if not actor.is_principal:
        raise ForbiddenError(f"only a principal, with a key of its own, may {act}")
    if actor.own_key:
        return
    issuer = actor.key_issuer
    by = {None: "an unrecorded issuer (it predates issuer records)", "platform": "the platform"}
    who = by.get(issuer, f"principal {issuer}")
    route = ROTATE_ROUTE.replace("{key_id}", str(actor.key_id))
    raise ForbiddenError(
        f"this API key was issued by {who}, not by you: a key its principal did not issue"
        f" or rotate itself cannot {act}. Rotate it first ({route}) and use the new secret"
    )


def require_commenter(
    actor: Actor,
    *,
    roles: Collection[Role],
    submitter_id: str,
    members: Collection[str],
    past_team: Collection[str],
) -> None:
    """Whether the actor may comment on an approval request: it holds a role that decides
    one of its stages and could decide one (never the submitter or the team, past or
    present)."""
    if not actor.is_principal or not actor.has_any(*roles):
        raise ForbiddenError("comments are by the roles that decide the request's stages")
    me = actor.principal_id
    if me == submitter_id or me in set(members) | set(past_team):
        raise ForbiddenError("the submitter and the model's team may not comment on its review")
