"""Models and their versions, inside one tenant's partition."""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo, keys

Item = dict[str, Any]


def get_model(tenant_id: str, model_id: str) -> Item | None:
    return dynamo.get(keys.model_key(tenant_id, model_id))


def put_new_model(tenant_id: str, model: Item) -> dict[str, Any]:
    return dynamo.create_op(
        keys.model_key(tenant_id, model["id"]), {"tenant_id": tenant_id, **model}
    )


def put_replace_model(tenant_id: str, model: Item, expected_revision: int) -> dict[str, Any]:
    """Replace a model if nobody changed it since `expected_revision` was read."""
    key = keys.model_key(tenant_id, model["id"])
    return dynamo.replace_op(key, {"tenant_id": tenant_id, **model}, expected_revision)


def check_model_exists(tenant_id: str, model_id: str) -> dict[str, Any]:
    return dynamo.check_op(keys.model_key(tenant_id, model_id), "attribute_exists(pk)")


def bump_version_count(
    tenant_id: str, model_id: str, expected_count: int, updated_at: str
) -> dict[str, Any]:
    """Claim the next version number: succeeds only if nobody claimed it first.

    The model's representation changes (version_count), so its revision (ETag) moves too:
    a PATCH prepared before this cannot write the old count back.
    """
    return dynamo.update_op(
        keys.model_key(tenant_id, model_id),
        "SET #count = :next, #updated = :at, #rev = #rev + :one",
        "#count = :count",
        names={"#count": "version_count", "#updated": "updated_at", "#rev": "revision"},
        values={
            ":next": expected_count + 1,
            ":count": expected_count,
            ":at": updated_at,
            ":one": 1,
        },
    )


def list_models_page(
    tenant_id: str,
    limit: int,
    start: dict[str, Any] | None,
    filter_expression: str | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> tuple[list[Item], dict[str, Any] | None]:
    return dynamo.query(
        partition=("pk", keys.tenant_pk(tenant_id)),
        sort_prefix=("sk", keys.MODEL_PREFIX),
        limit=limit,
        start_key=start,
        filter_expression=filter_expression,
        names=names,
        values=values,
    )


def get_version(tenant_id: str, model_id: str, number: int) -> Item | None:
    return dynamo.get(keys.version_key(tenant_id, model_id, number))


def put_new_version(tenant_id: str, version: Item) -> dict[str, Any]:
    key = keys.version_key(tenant_id, version["model_id"], version["number"])
    return dynamo.create_op(key, {"tenant_id": tenant_id, **version})


def put_replace_version(tenant_id: str, version: Item, expected_revision: int) -> dict[str, Any]:
    """Replace a version if unchanged since read and still a draft."""
    key = keys.version_key(tenant_id, version["model_id"], version["number"])
    item = {"tenant_id": tenant_id, **version}
    return dynamo.replace_op(key, item, expected_revision, draft_only=True)


def list_versions_page(
    tenant_id: str, model_id: str, limit: int, start: dict[str, Any] | None
) -> tuple[list[Item], dict[str, Any] | None]:
    return dynamo.query(
        partition=("pk", keys.tenant_pk(tenant_id)),
        sort_prefix=("sk", keys.version_prefix(model_id)),
        limit=limit,
        start_key=start,
    )
