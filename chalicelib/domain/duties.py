"""Separation of duties: who may do what to a model, as pure functions over plain facts.

"No student grades their own paper": the people who build a model (its team: the owner and
the developers) edit it, and people who have never been on its team judge its risk. The
model keeps `past_team_ids`, everyone who has ever been its owner or a developer (the
registrant included), so handing a model over does not let its author classify it.
Separation of duties compares principals, never keys: one person with two keys is one person.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from chalicelib.domain.actors import Actor
from chalicelib.domain.roles import Role
from chalicelib.errors import ConflictError, ForbiddenError

# Fields of a model whose change is a risk judgement, not a description.
GOVERNANCE_FIELDS = frozenset({"risk_tier", "regulatory_scope"})
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
    """403 unless the actor is a validator or approver who has never been on the team."""
    if not actor.has_any(*JUDGES):
        raise ForbiddenError("only validators or approvers may change risk tier or scope")
    if on_team(actor, set(members) | set(past_team)):
        raise ForbiddenError(
            "risk tier and regulatory scope must be changed by someone who has never been on"
            " the model's team"
        )


def require_model_edit_rights(
    actor: Actor, members: Collection[str], past_team: Collection[str], sent: Collection[str]
) -> None:
    """The rights a patch needs for the fields it sends, whether or not it changes them:
    descriptive fields are the team's, governance fields an independent judge's."""
    fields = set(sent)
    if fields - GOVERNANCE_FIELDS:
        require_team_developer(actor, members, "edit a model's descriptive fields")
    if fields & GOVERNANCE_FIELDS:
        require_independent_judge(actor, members, past_team)


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
    if not actor.is_principal or not actor.has_any(stage_role):
        raise ForbiddenError(f"this stage is decided by the {stage_role} role")
    me = actor.principal_id
    if me == submitter_id:
        raise ForbiddenError("the submitter may not decide their own request")
    if me in set(members) | set(past_team):
        raise ForbiddenError("the model's team, past or present, may not decide its approval")
    if me in deciders_by_stage.get(stage, ()):
        raise ConflictError("you have already decided this stage")
    for other, deciders in deciders_by_stage.items():
        if other != stage and me in deciders:
            raise ForbiddenError("nobody decides two stages of one request")


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
