"""Secrets Manager reads, cached per process for a few minutes."""

from __future__ import annotations

import threading
import time

from botocore.exceptions import ClientError

from chalicelib.bootstrap import caches, client

_TTL_SECONDS = 300.0
_cache: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


class SecretMissingError(Exception):
    """The secret does not exist or has no value yet."""


def get_secret(name: str) -> str:
    """The secret's current string value (cached for five minutes)."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
        if hit and now - hit[1] < _TTL_SECONDS:
            return hit[0]
    try:
        value = client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("ResourceNotFoundException", "InvalidRequestException"):
            raise SecretMissingError(name) from exc
        raise
    with _lock:
        _cache[name] = (value, now)
    return str(value)


def clear_cache() -> None:
    with _lock:
        _cache.clear()


caches.append(clear_cache)
