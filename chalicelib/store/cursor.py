"""Signed pagination cursors, bound to the tenant and the query that made them.

A cursor is `base64url(payload).base64url(hmac)`; the payload holds the
tenant, a fingerprint of the query (route and filters) and DynamoDB's
LastEvaluatedKey. Anything else presented as a cursor is a 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from chalicelib.config import settings
from chalicelib.errors import FieldError, InvalidCursorError
from chalicelib.store.keys import in_tenant
from chalicelib.store.secrets import get_secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: bytes) -> bytes:
    key = get_secret(settings().cursor_key_secret).encode()
    return hmac.new(key, payload, hashlib.sha256).digest()


def fingerprint(route: str, **filters: Any) -> str:
    """A short digest of the query a cursor continues."""
    canonical = json.dumps([route, filters], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(tenant: str | None, query: str, last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    payload = json.dumps({"t": tenant, "q": query, "k": last_key}, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_signature(payload))}"


def decode(cursor: str | None, tenant: str | None, query: str) -> dict[str, Any] | None:
    """The LastEvaluatedKey a cursor carries; raises InvalidCursorError if it is not ours."""
    if cursor is None:
        return None
    bad = InvalidCursorError(
        "the cursor is not valid for this query",
        errors=[FieldError("query.cursor", "malformed, forged, expired or from another query")],
    )
    try:
        payload_text, signature_text = cursor.split(".", 1)
        payload = _unb64(payload_text)
        signature = _unb64(signature_text)
    except (ValueError, UnicodeError) as exc:
        raise bad from exc
    if not hmac.compare_digest(signature, _signature(payload)):
        raise bad
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise bad from exc
    if data.get("t") != tenant or data.get("q") != query or not isinstance(data.get("k"), dict):
        raise bad
    key: dict[str, Any] = data["k"]
    if tenant is not None and not _inside_tenant(key, tenant):
        raise bad
    return key


def _inside_tenant(key: dict[str, Any], tenant: str) -> bool:
    """A signed key is ours already; this double-checks it stays in the tenant's space."""
    # An index page is placed by its index partition; the table key beside it may be a
    # global lookup item (API keys), so only the index partition must be the tenant's.
    attr = "gsi1pk" if "gsi1pk" in key else "pk"
    value = key.get(attr, {}).get("S")
    return isinstance(value, str) and in_tenant(value, tenant)
