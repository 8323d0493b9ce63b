"""Small shared helpers for services: timestamps and item-to-model conversion."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from chalicelib.errors import FieldError, ValidationError
from chalicelib.store.writer import iso, now

M = TypeVar("M", bound=BaseModel)


def timestamp() -> str:
    """Now, as the ISO 8601 UTC text every record stores."""
    return iso(now())


def to_model(cls: type[M], item: dict[str, Any]) -> M:
    """A stored item as its outbound model (storage attributes are ignored)."""
    return cls.model_validate(item)


def public(model: BaseModel) -> dict[str, Any]:
    """The JSON form of a model, as audit events and domain events carry it."""
    return model.model_dump(mode="json")


def validated(cls: type[M], data: dict[str, Any]) -> M:
    """`data` as `cls`, or a 400 naming the fields a merge left invalid."""
    try:
        return cls.model_validate(data)
    except PydanticValidationError as exc:
        errors = [
            FieldError("body." + ".".join(str(p) for p in e["loc"]), e["msg"])
            for e in exc.errors(include_url=False)
        ]
        raise ValidationError("the patched object would not be valid", errors=errors) from exc


def merge_patch(
    current: dict[str, Any], patch: BaseModel, required: AbstractSet[str]
) -> dict[str, Any]:
    """RFC 7396 merge-patch of `current` with the fields the client sent.

    A null clears an optional field; a null for a field in `required` is a 400.
    Nested objects merge the same way.
    """
    sent = patch.model_dump(exclude_unset=True, mode="json")
    nulled = sorted(k for k, v in sent.items() if v is None and k in required)
    if nulled:
        raise ValidationError(
            "these fields cannot be cleared",
            errors=[FieldError(f"body.{k}", "may not be null") for k in nulled],
        )
    return _merge(current, sent)


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged[key] = None
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
