"""The model's derived status, restated in the unit of work of the change that moves it.

A deployment to production, its end, a version's approval, rejection after approval or
retirement each changes the counts `domain.deployments.model_status` reads; the service
making the change adds the model's new counts and status here, conditioned on the model's
revision as it read it. Two such changes to one model at once serialize on that revision:
the loser's commit raises RetryError and its service reads both again.

The model's status change is part of the fact its cause records: the cause's audit entry
carries `model_status` before and after (`noted`), so one change stays one audit event.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.deployments import Standing, model_status
from chalicelib.domain.models import Model
from chalicelib.services.records import public
from chalicelib.store.scope import TenantStore
from chalicelib.store.unit import RetryError, UnitOfWork


def standing_of(model: Model) -> Standing:
    """The counts a model's status is derived from, as stored on it."""
    return Standing(
        versions=model.version_count,
        approved=model.approved_versions,
        retired=model.retired_versions,
        production=model.production_deployments,
    )


def restate(
    store: TenantStore, unit: UnitOfWork, model: Model, standing: Standing, at: str
) -> Model:
    """Add to `unit` the model with `standing` and the status it derives; the model as it
    will be."""
    if standing == standing_of(model):
        return model
    updated = Model.model_validate(
        {
            **public(model),
            "approved_versions": standing.approved,
            "retired_versions": standing.retired,
            "production_deployments": standing.production,
            "status": model_status(standing),
            "updated_at": at,
            "revision": model.revision + 1,
        }
    )
    replace = store.inventory.put_replace_model(public(updated), model.revision)
    unit.add("model", replace, RetryError)
    return updated


def noted(
    before: Model, after: Model, entry: tuple[dict[str, Any] | None, dict[str, Any] | None]
) -> dict[str, dict[str, Any] | None]:
    """The audit entry's before and after (`entry`), with the model's status in each when
    the change moved it; as keyword arguments of `UnitOfWork.record`."""
    old, new = entry
    if before.status == after.status:
        return {"before": old, "after": new}
    return {
        "before": {**(old or {}), "model_status": before.status},
        "after": {**(new or {}), "model_status": after.status},
    }
