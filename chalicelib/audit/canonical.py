"""The canonical form of an audit event and the chain's hash. Standard library only.

The writer hashes every audit event with these two functions (through
`chalicelib.domain.audit`), and the offline verifier recomputes the chain with them; an
export carries a copy of this file beside `verify.py`, so the verifier an examiner runs is
the writer's own definition, never a second one that could drift from it.

- canonical form: JSON (RFC 8259) with object keys sorted by code point, no whitespace
  (`,` and `:` as separators), non-ASCII characters written as UTF-8, not escaped;
- hash: lowercase hex SHA-256 of the UTF-8 bytes of `prev_hash + canonical form`, where
  `prev_hash` is the previous event's hash, or 64 zeros before the first event.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64


def canonical(event: dict[str, Any]) -> str:
    """Canonical JSON of an event: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, body: str) -> str:
    """hash = sha256(prev_hash + canonical event)."""
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()
