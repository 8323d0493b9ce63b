"""Deployments: records that a version runs somewhere, kept as history with valid-from and
valid-until; and the model's status, derived from its versions and production deployments.

| model status | when |
|---|---|
| in_production | a production deployment of any of its versions is open |
| approved | else, when any version is approved |
| retired | else, when it has versions and every one is retired |
| in_development | otherwise |

The model keeps the counts the rule reads (`approved_versions`, `retired_versions`,
`production_deployments` beside `version_count`), changed in the same unit of work as the
deployment, approval or retirement that changes them, so its stored status is always the
rule applied to them and the inventory filters on it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, NamedTuple

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.domain.lifecycle import VersionStatus
from chalicelib.domain.models import Inbound, ListPage, ModelStatus, Outbound, ShortText


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


# Where a version runs, as the client names it (an endpoint ARN, a cluster/namespace, a
# host): printable, no control characters, no surrounding whitespace, at most 256
# characters. Explicit ranges rather than \s (see domain.models.Email).
Target = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=256,
        pattern=r"^[^\x00-\x20\x7f]([^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?$",
    ),
]


class DeploymentCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "environment": "staging",
                    "target": "sagemaker:endpoint/retail-pd-staging",
                    "notes": "Shadow scoring against the current model",
                },
                {"environment": "development", "target": "jupyter:risk-team/pd"},
            ]
        }
    )

    environment: Environment = Field(
        description="production needs an approved version whose artifacts are still the"
        " approved objects"
    )
    target: Target = Field(description="Where it runs: an endpoint, cluster, host, …")
    notes: ShortText | None = None


class Deployment(Outbound):
    id: str
    model_id: str
    version_number: int
    version_id: str
    environment: Environment
    target: str
    notes: str | None = None
    approval_request_id: str | None = Field(
        default=None, description="The approval a production deployment ran under"
    )
    since: datetime = Field(description="Valid from: when it was recorded")
    until: datetime | None = Field(default=None, description="Valid until; null while open")
    deployed_by: str
    ended_by: str | None = None


class DeploymentList(ListPage):
    items: list[Deployment]


# --- the model's derived status ------------------------------------------------------


class Standing(NamedTuple):
    """The counts on a model that its status is derived from."""

    versions: int
    approved: int
    retired: int
    production: int  # open production deployments

    def moved(self, before: VersionStatus, after: VersionStatus) -> Standing:
        """The counts once one version moves from `before` to `after`."""
        approved = self.approved - (before is VersionStatus.APPROVED)
        approved += after is VersionStatus.APPROVED
        retired = self.retired - (before is VersionStatus.RETIRED)
        retired += after is VersionStatus.RETIRED
        return self._replace(approved=approved, retired=retired)

    def deployed(self, environment: Environment, change: int) -> Standing:
        """The counts once a deployment to `environment` opens (+1) or ends (-1)."""
        if environment is not Environment.PRODUCTION:
            return self
        return self._replace(production=self.production + change)


def model_status(standing: Standing) -> ModelStatus:
    """The model's status from its counts (the table in this module's docstring)."""
    if standing.production > 0:
        return ModelStatus.IN_PRODUCTION
    if standing.approved > 0:
        return ModelStatus.APPROVED
    if standing.versions > 0 and standing.retired >= standing.versions:
        return ModelStatus.RETIRED
    return ModelStatus.IN_DEVELOPMENT
