"""Risk classification: the tier a developer gives at registration is a proposal until a
validator or approver who has never been on the model's team confirms or changes it.

Until then the approval policy treats the model as tier 1 (`lifecycle.policy_tier`), so an
unconfirmed tier can never buy a lighter process. Classifying is an explicit act, made with
the judge's own key (`duties.require_own_key`): confirming the tier already proposed counts,
and is recorded like any change (`model.classified`, with the key and who issued it).
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain import duties, events
from chalicelib.domain.actors import Actor
from chalicelib.domain.audit import diff
from chalicelib.domain.models import Model, ModelClassification
from chalicelib.errors import ConflictError, PreconditionFailedError
from chalicelib.services.inventory import get_model, team
from chalicelib.services.records import public, timestamp, validated
from chalicelib.store.scope import for_actor
from chalicelib.store.unit import UnitOfWork


def classify_model(
    actor: Actor, model_id: str, body: ModelClassification, if_match: Callable[[int], int]
) -> Model:
    """Confirm or change a model's risk tier and regulatory scope.

    403 unless the actor is a validator or approver who has never been on the model's team,
    acting with a key of its own; then 428/412 on If-Match, 409 for a retired model."""
    store = for_actor(actor)
    current = get_model(actor, model_id)
    duties.require_independent_judge(actor, team(current), current.past_team_ids)
    duties.require_own_key(actor, "classify a model")
    revision = if_match(current.revision)
    if current.status == "retired":
        raise ConflictError("a retired model cannot be classified")
    at = timestamp()
    updated = validated(
        Model,
        {
            **public(current),
            "risk_tier": body.risk_tier,
            "regulatory_scope": list(dict.fromkeys(body.regulatory_scope)),
            "risk_tier_confirmed": True,
            "classified_by": actor.principal_id,
            "classified_at": at,
            "updated_at": at,
            "revision": revision + 1,
        },
    )
    before, after = diff(public(current), public(updated))
    unit = UnitOfWork()
    unit.add(
        "model",
        store.inventory.put_replace_model(public(updated), revision),
        lambda: PreconditionFailedError("the model changed since it was read"),
    )
    unit.record(events.MODEL_CLASSIFIED.name, "model", model_id, before=before, after=after)
    store.commit(actor, unit.emit(events.MODEL_CLASSIFIED.of(updated)))
    return updated
