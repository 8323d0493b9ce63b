"""What a GET answers for a stored item, rendered without pydantic.

Importing pydantic and the models costs a cold process more than the rest of the app
together (`python -m bench.cold_start`), and a read has nothing to validate: the item was
validated when it was written. A `View` lists the fields of a resource's outbound model in
its order, with the default of each optional one, and renders a stored item as that model
would serialize it: storage attributes (keys, tenant id) left out, timestamps as pydantic
writes them. tests/functional/test_views.py holds each view to its model, on items stored
through the API, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

Item = dict[str, Any]


def timestamp(text: str | None) -> str | None:
    """A stored ISO 8601 time as pydantic serializes a `datetime`: microseconds only when
    there are some (six digits), UTC as `Z`, any other offset kept."""
    if text is None:
        return None
    written = datetime.fromisoformat(text).isoformat()
    return written[:-6] + "Z" if written.endswith("+00:00") else written


class View(NamedTuple):
    """The public face of one resource kind (its outbound model's fields, in order)."""

    fields: tuple[str, ...]
    times: frozenset[str] = frozenset()  # datetime fields
    lists: frozenset[str] = frozenset()  # fields that default to [] when absent
    nested: dict[str, View] | None = None  # fields that hold another model
    defaults: dict[str, Any] | None = None  # other fields' defaults, when absent

    def render(self, item: Item) -> Item:
        """`item` as the model would serialize it; an absent optional field is null."""
        shown: Item = {}
        for name in self.fields:
            value = item.get(name)
            if value is None and self.defaults and name in self.defaults:
                value = self.defaults[name]
            elif value is None and name in self.lists:
                value = []
            elif name in self.times:
                value = timestamp(value)
            elif self.nested and name in self.nested and value is not None:
                value = self.nested[name].render(value)
            shown[name] = value
        return shown

    def page(self, items: Iterable[Item], next_cursor: str | None) -> Item:
        """A list page of such items (`ListPage`: the cursor first, as the model has it)."""
        return {"next_cursor": next_cursor, "items": [self.render(i) for i in items]}


STAMPS = ("created_by", "created_at", "updated_at", "revision")

MODEL = View(
    fields=(
        "id",
        "name",
        "purpose",
        "intended_use",
        "restrictions",
        "owner_id",
        "developer_ids",
        "business_unit",
        "risk_tier",
        "risk_tier_confirmed",
        "risk_tier_in_force",
        "classified_by",
        "classified_at",
        "regulatory_scope",
        "source_system",
        "external_id",
        "inputs",
        "outputs",
        "upstream_model_ids",
        "tags",
        "past_team_ids",
        "status",
        "version_count",
        "approved_versions",
        "retired_versions",
        "production_deployments",
        *STAMPS,
    ),
    times=frozenset({"created_at", "updated_at", "classified_at"}),
    lists=frozenset({"inputs", "outputs", "upstream_model_ids", "tags", "past_team_ids"}),
    defaults={
        "risk_tier_confirmed": False,
        "approved_versions": 0,
        "retired_versions": 0,
        "production_deployments": 0,
    },
)

VERSION_APPROVAL = View(
    fields=("request_id", "policy_version", "approved_at", "artifacts", "conditions", "expires_at"),
    times=frozenset({"approved_at", "expires_at"}),
    lists=frozenset({"conditions"}),
)

VERSION = View(
    fields=(
        "id",
        "model_id",
        "number",
        "status",
        "description",
        "lineage",
        "model_card",
        "approval_request_id",
        "approval",
        "revalidation_request_id",
        "revalidated_at",
        "revalidation_due_at",
        "retired_at",
        "retired_by",
        *STAMPS,
    ),
    times=frozenset(
        {"created_at", "updated_at", "revalidated_at", "revalidation_due_at", "retired_at"}
    ),
    nested={"approval": VERSION_APPROVAL},
)

TENANT = View(
    fields=("id", "name", "status", "created_at", "updated_at", "revision"),
    times=frozenset({"created_at", "updated_at"}),
)

PRINCIPAL = View(
    fields=(
        "id",
        "name",
        "email",
        "kind",
        "roles",
        "status",
        "created_at",
        "updated_at",
        "revision",
    ),
    times=frozenset({"created_at", "updated_at"}),
)

API_KEY = View(
    fields=(
        "id",
        "principal_id",
        "name",
        "status",
        "created_at",
        "expires_at",
        "revoked_at",
        "issued_by",
        "rotated_from",
    ),
    times=frozenset({"created_at", "expires_at", "revoked_at"}),
)

ME = View(
    fields=(
        "principal_id",
        "tenant_id",
        "key_id",
        "key_issued_by",
        "own_key",
        "roles",
        "platform",
        "name",
    )
)

HEALTH = View(fields=("status", "version"))

AUDIT_ACTOR = View(fields=("kind", "principal_id", "key_id", "key_issued_by", "system"))
AUDIT_SUBJECT = View(fields=("type", "id"))
AUDIT_EVENT = View(
    fields=(
        "seq",
        "id",
        "time",
        "action",
        "actor",
        "subject",
        "before",
        "after",
        "request_id",
        "prev_hash",
        "hash",
    ),
    times=frozenset({"time"}),
    nested={"actor": AUDIT_ACTOR, "subject": AUDIT_SUBJECT},
)

AUDIT_VERIFICATION = View(
    fields=(
        "valid",
        "head_seq",
        "verified_from",
        "verified_to",
        "complete",
        "first_bad_seq",
        "reason",
    )
)

# The outbound model each view stands for, by name in chalicelib.domain.models (the tests
# hold every view to its model).
MODELS = {
    "Model": MODEL,
    "Version": VERSION,
    "Tenant": TENANT,
    "Principal": PRINCIPAL,
    "ApiKey": API_KEY,
    "Me": ME,
    "Health": HEALTH,
    "AuditEvent": AUDIT_EVENT,
    "AuditActor": AUDIT_ACTOR,
    "AuditSubject": AUDIT_SUBJECT,
    "AuditVerification": AUDIT_VERIFICATION,
    "VersionApproval": VERSION_APPROVAL,
}
