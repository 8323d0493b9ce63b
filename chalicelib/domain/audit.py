"""The audit chain's pure rules: canonical form and hashing."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical(event: dict[str, Any]) -> str:
    """Canonical JSON of an event: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, body: str) -> str:
    """hash = sha256(prev_hash + canonical event)."""
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields that changed, as (before, after) restricted to those fields."""
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return ({k: before.get(k) for k in changed}, {k: after.get(k) for k in changed})
