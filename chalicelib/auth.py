"""API keys: minting, hashing and authenticating bearer tokens.

A tenant key is `cus_<key id>_<secret>`; only sha256(secret) is stored, and it
is compared in constant time. Key records, tenants and principals are cached
per process for `CUSTOS_AUTH_CACHE_SECONDS` (30 s by default), so a revoked key,
a suspended tenant or a changed role takes effect within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.config import settings
from chalicelib.domain.context import Caller
from chalicelib.domain.roles import Role
from chalicelib.errors import ForbiddenError, UnauthenticatedError
from chalicelib.store import dynamo, keys, principals
from chalicelib.store.secrets import SecretMissingError, get_secret

PLATFORM_PRINCIPAL = "platform"
PLATFORM_KEY_ID = "platform"
_TOKEN = re.compile(r"^cus_(key_[0-9A-HJKMNP-TV-Z]{26})_([A-Za-z0-9_-]{43})$")


def mint_secret(key_id: str) -> tuple[str, str]:
    """A new bearer token for `key_id` and the hash to store: (token, hash)."""
    secret = secrets.token_urlsafe(32)
    return f"cus_{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class _Entry:
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


def forget(tenant_id: str, *, principal_id: str | None = None, key_id: str | None = None) -> None:
    """Drop this process's cached lookups a change makes stale: one key's, a principal's
    keys', or (neither given) every key of the tenant. Other keys stay cached, so the
    request after a change does not pay their lookups again."""

    def stale(cached_id: str, entry: _Entry) -> bool:
        if entry.key.get("tenant_id") != tenant_id:
            return False
        if key_id is not None:
            return cached_id == key_id
        return principal_id is None or entry.key.get("principal_id") == principal_id

    with _lock:
        for cached_id in [k for k, entry in _cache.items() if stale(k, entry)]:
            del _cache[cached_id]


def authenticate(authorization: str | None, request_id: str) -> Caller:
    """The caller a request's Authorization header names; 401/403 otherwise."""
    if not authorization or not authorization.startswith("Bearer "):
        raise UnauthenticatedError("send an API key as 'Authorization: Bearer <key>'")
    token = authorization[len("Bearer ") :].strip()
    match = _TOKEN.match(token)
    if match:
        return _tenant_caller(match.group(1), match.group(2), request_id)
    return _platform_caller(token, request_id)


def _platform_caller(token: str, request_id: str) -> Caller:
    try:
        expected = get_secret(settings().platform_key_secret).strip()
    except SecretMissingError as exc:
        raise UnauthenticatedError("the API key is not valid") from exc
    if not token or not hmac.compare_digest(hash_secret(token), expected):
        raise UnauthenticatedError("the API key is not valid")
    return Caller(
        request_id=request_id,
        tenant_id=None,
        principal_id=PLATFORM_PRINCIPAL,
        key_id=PLATFORM_KEY_ID,
        platform=True,
    )


def _tenant_caller(key_id: str, secret: str, request_id: str) -> Caller:
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
    return Caller(
        request_id=request_id,
        tenant_id=entry.key["tenant_id"],
        principal_id=entry.key["principal_id"],
        key_id=key_id,
        roles=frozenset(Role(r) for r in entry.principal.get("roles", [])),
    )


def _lookup(key_id: str) -> _Entry | None:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key_id)
    if hit and now - hit.fetched < settings().auth_cache_seconds:
        return hit
    key = principals.get_key(key_id)
    if key is None:
        return None
    tenant_id, principal_id = key["tenant_id"], key["principal_id"]
    found = dynamo.batch_get(
        [keys.tenant_key(tenant_id), keys.principal_key(tenant_id, principal_id)]
    )
    by_sk = {item["sk"]: item for item in found}
    entry = _Entry(
        key=key,
        tenant=by_sk.get(keys.TENANT_SK),
        principal=by_sk.get(keys.PRINCIPAL_PREFIX + principal_id),
        fetched=now,
    )
    with _lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()  # simplest bound: a warm process rarely sees this many keys
        _cache[key_id] = entry
    return entry
