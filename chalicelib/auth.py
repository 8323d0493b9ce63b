"""Authenticating bearer tokens: tenant API keys and the platform key.

A tenant key is `cus_<key id>_<secret>`; only sha256(secret) is stored, and it
is compared in constant time. Key records, tenants and principals are cached
per process for `CUSTOS_AUTH_CACHE_SECONDS` (30 s by default), so a revoked key,
a suspended tenant or a changed role takes effect within that time.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

from chalicelib.bootstrap import caches
from chalicelib.config import settings
from chalicelib.domain.actors import Actor
from chalicelib.domain.credentials import hash_secret
from chalicelib.domain.roles import Role
from chalicelib.errors import ForbiddenError, UnauthenticatedError
from chalicelib.store import dynamo, invalidation
from chalicelib.store.keys import TENANT_SK, TenantKeys
from chalicelib.store.principals import lookup_key
from chalicelib.store.secrets import SecretMissingError, get_secret

_TOKEN = re.compile(r"^cus_(key_[0-9A-HJKMNP-TV-Z]{26})_([A-Za-z0-9_-]{43})$")
_BEARER = re.compile(r"^bearer[ \t]+(\S+)[ \t]*$", re.IGNORECASE)


class _Entry(NamedTuple):
    key: dict[str, Any]
    tenant: dict[str, Any] | None
    principal: dict[str, Any] | None
    fetched: float


_CACHE_LIMIT = 10_000
_cache: dict[str, _Entry] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def forget(stale: invalidation.Stale) -> None:
    """Drop this process's cached lookups a committed change made stale: one key's, a
    principal's keys', or (neither given) every key of the tenant. Other keys stay cached,
    so the request after a change does not pay their lookups again."""
    tenant_id, principal_id, key_id = stale.tenant_id, stale.principal_id, stale.key_id

    def is_stale(cached_id: str, entry: _Entry) -> bool:
        if entry.key.get("tenant_id") != tenant_id:
            return False
        if key_id is not None:
            return cached_id == key_id
        return principal_id is None or entry.key.get("principal_id") == principal_id

    with _lock:
        for cached_id in [k for k, entry in _cache.items() if is_stale(k, entry)]:
            del _cache[cached_id]


caches.append(clear_cache)
invalidation.listen(forget)


def authenticate(authorization: str | None, request_id: str) -> Actor:
    """The actor a request's Authorization header names; 401/403 otherwise.

    The scheme is case-insensitive (RFC 9110 section 11.1): `bearer` is `Bearer`."""
    bearer = _BEARER.match(authorization or "")
    if bearer is None:
        raise UnauthenticatedError("send an API key as 'Authorization: Bearer <key>'")
    token = bearer.group(1)
    match = _TOKEN.match(token)
    if match:
        return _tenant_caller(match.group(1), match.group(2), request_id)
    return _platform_caller(token, request_id)


def _platform_caller(token: str, request_id: str) -> Actor:
    try:
        expected = get_secret(settings().platform_key_secret).strip()
    except SecretMissingError as exc:
        raise UnauthenticatedError("the API key is not valid") from exc
    if not token or not hmac.compare_digest(hash_secret(token), expected):
        raise UnauthenticatedError("the API key is not valid")
    return Actor.platform_operator(request_id)


def _tenant_caller(key_id: str, secret: str, request_id: str) -> Actor:
    entry = _lookup(key_id)
    invalid = UnauthenticatedError("the API key is not valid")
    if entry is None or not hmac.compare_digest(hash_secret(secret), entry.key["secret_hash"]):
        raise invalid
    if entry.key.get("revoked_at"):
        raise UnauthenticatedError("the API key was revoked")
    expires = entry.key.get("key_expires_at")
    if expires and datetime.fromisoformat(expires) <= datetime.now(UTC):
        raise UnauthenticatedError("the API key has expired")
    if entry.principal is None or entry.principal.get("status") != "active":
        raise UnauthenticatedError("the API key's principal is deactivated")
    if entry.tenant is None or entry.tenant.get("status") != "active":
        raise ForbiddenError("the tenant is suspended")
    return Actor.of_principal(
        request_id,
        entry.key["tenant_id"],
        entry.key["principal_id"],
        key_id,
        frozenset(Role(r) for r in entry.principal.get("roles", [])),
        key_issuer=entry.key.get("issued_by"),  # on the item already read: no extra call
    )


def _lookup(key_id: str) -> _Entry | None:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key_id)
    if hit and now - hit.fetched < settings().auth_cache_seconds:
        return hit
    key = lookup_key(key_id)
    if key is None:
        return None
    tenant_keys = TenantKeys(key["tenant_id"])
    principal_key = tenant_keys.principal(key["principal_id"])
    found = dynamo.batch_get([tenant_keys.tenant(), principal_key])
    by_key = {(item["pk"], item["sk"]): item for item in found}
    entry = _Entry(
        key=key,
        tenant=by_key.get((tenant_keys.root, TENANT_SK)),
        principal=by_key.get((principal_key["pk"], principal_key["sk"])),
        fetched=now,
    )
    with _lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()  # simplest bound: a warm process rarely sees this many keys
        _cache[key_id] = entry
    return entry
