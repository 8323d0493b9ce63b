"""Retiring a version: it leaves use for good, once nothing runs it in production.

A version may be retired from the states `domain.lifecycle` allows (draft, rejected,
approved; a submitted one is cancelled first, and so is a revalidation under way), by its
model's team (developers) or an admin, once it has no open production deployment (409
naming each). Its open deployments
elsewhere are left as they are: they record what runs, and their team ends them. The
model's derived status moves in the same unit of work (`services.standing`): retiring its
last unretired version retires the model.
"""

from __future__ import annotations

from chalicelib.domain import duties, events, lifecycle
from chalicelib.domain.actors import Actor
from chalicelib.domain.deployments import Deployment, Environment
from chalicelib.domain.models import Version
from chalicelib.domain.roles import Role
from chalicelib.errors import ConflictError, FieldError, ForbiddenError, TransientConflictError
from chalicelib.services import standing
from chalicelib.services.deployments import ATTEMPTS, read_version
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

Mover = lifecycle.Mover
# Deployments a retirement reads per page, looking for open production ones.
PAGE = 100


def retire(actor: Actor, model_id: str, number: str) -> Version:
    """Retire version `number` of the model (see the module docstring)."""
    store = for_actor(actor)
    for _ in range(ATTEMPTS):
        model, version, _ = read_version(store, model_id, number)
        movers = _movers(actor, duties.team(model.owner_id, model.developer_ids))
        target = lifecycle.transition(version.status, lifecycle.VersionStatus.RETIRED, movers)
        if version.revalidation_request_id is not None:
            raise ConflictError(
                f"version {version.number} is under revalidation"
                f" ({version.revalidation_request_id}); cancel it first"
            )
        # Read after the model: a production deployment committed since would have moved
        # the model's revision, and this unit, conditioned on it, would retry.
        running = open_production(store, model_id, version.number)
        if running:
            raise ConflictError(
                f"version {version.number} runs in production; end its deployments first: "
                + ", ".join(f"{d.id} at {d.target}" for d in running),
                errors=[FieldError(f"deployments.{d.id}", d.target) for d in running],
            )
        at = timestamp()
        retired = Version.model_validate(
            {
                **public(version),
                "status": target,
                "retired_at": at,
                "retired_by": actor.principal_id,
                "updated_at": at,
                "revision": version.revision + 1,
            }
        )
        unit = UnitOfWork()
        unit.add(
            "version",
            store.inventory.put_moved_version(public(retired), version.revision, version.status),
            RetryError,
        )
        moved = standing.standing_of(model).moved(version.status, target)
        restated = standing.restate(store, unit, model, moved, at)
        unit.record(
            events.VERSION_RETIRED.name,
            "version",
            version.id,
            **standing.noted(
                model,
                restated,
                ({"status": version.status}, {"status": target, "retired_at": at}),
            ),
        )
        unit.emit(events.VERSION_RETIRED.of(retired))
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return retired
    raise TransientConflictError("the version changed too often meanwhile; retry")


def _movers(actor: Actor, members: set[str]) -> set[Mover]:
    """The capacities in which the actor may retire: the team (a developer on it) or admin."""
    movers = set()
    if duties.on_team(actor, members) and actor.has_any(duties.TEAM_ROLE):
        movers.add(Mover.TEAM)
    if actor.has_any(Role.ADMIN):
        movers.add(Mover.ADMIN)
    if not movers:
        raise ForbiddenError("only the model's team (developers) or an admin may retire it")
    return movers


def open_production(store: TenantStore, model_id: str, number: int) -> list[Deployment]:
    """The version's open production deployments (consistent reads, every page)."""
    found: list[Deployment] = []
    start = None
    while True:
        items, start = store.deployments.list_page(
            model_id,
            number,
            PAGE,
            start,
            environment=Environment.PRODUCTION.value,
            open_only=True,
            consistent=True,
        )
        found += [to_model(Deployment, i) for i in items]
        if not start:
            return found
