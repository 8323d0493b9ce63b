"""The audit chain's pure rules: canonical form and hashing (`chalicelib/audit/canonical.py`),
changes as diffs, sides bounded in size."""

from __future__ import annotations

import hashlib
from typing import Any

# The canonical form and the hash live in one standard-library module, which the offline
# verifier uses and every export carries: the writer and the verifier cannot drift apart.
from chalicelib.audit.canonical import canonical, chain_hash

__all__ = ["bounded", "canonical", "chain_hash", "diff"]


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields that changed, as (before, after) restricted to those fields."""
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return ({k: before.get(k) for k in changed}, {k: after.get(k) for k in changed})


AUDIT_SIDE_BUDGET = 150_000  # bytes per before/after, keeping an event under DynamoDB's 400 KB


def bounded(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """`value`, with long texts replaced by their digest when it is too big to store whole.

    The digest still lets an examiner prove what the text was against the object's history.
    """
    if value is None or len(canonical(value).encode()) <= AUDIT_SIDE_BUDGET:
        return value
    return _digest_long_texts(value)


def _digest_long_texts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _digest_long_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_digest_long_texts(v) for v in value]
    if isinstance(value, str) and len(value) > 500:
        digest = hashlib.sha256(value.encode()).hexdigest()
        return {"sha256": digest, "length": len(value)}
    return value
