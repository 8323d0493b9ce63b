"""Secrets Custos must use again but never show again (webhook signing secrets), sealed
with KMS: only the ciphertext is stored, bound by its encryption context to the tenant and
the object it belongs to, so a ciphertext copied to another item does not open there.

Opened values are kept in the process for a few minutes: a delivery worker signs many
deliveries of one subscription with one Decrypt.
"""

from __future__ import annotations

import base64
import threading
import time

from botocore.exceptions import ClientError

from chalicelib.bootstrap import caches, client
from chalicelib.config import settings
from chalicelib.store.aws_errors import is_transient, unavailable

_TTL_SECONDS = 300.0
_MAX_ENTRIES = 10_000
_cache: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


class SealError(Exception):
    """KMS refused to seal or open (not a transient failure): the key or context is wrong."""


def seal(plaintext: str, context: dict[str, str]) -> str:
    """The KMS ciphertext of `plaintext` under the webhooks key, as base64 text."""
    try:
        answer = client("kms").encrypt(
            KeyId=settings().webhooks.key_arn,
            Plaintext=plaintext.encode(),
            EncryptionContext=context,
        )
    except ClientError as exc:
        if is_transient(exc):
            raise unavailable(exc) from exc
        raise SealError(exc.response.get("Error", {}).get("Code", "KMS refused")) from exc
    return base64.b64encode(answer["CiphertextBlob"]).decode()


def open_sealed(ciphertext: str, context: dict[str, str]) -> str:
    """The plaintext sealed in `ciphertext` with `context` (cached for five minutes)."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get(ciphertext)
        if hit and now - hit[1] < _TTL_SECONDS:
            return hit[0]
    try:
        answer = client("kms").decrypt(
            CiphertextBlob=base64.b64decode(ciphertext),
            EncryptionContext=context,
            KeyId=settings().webhooks.key_arn,
        )
    except ClientError as exc:
        if is_transient(exc):
            raise unavailable(exc) from exc
        raise SealError(exc.response.get("Error", {}).get("Code", "KMS refused")) from exc
    value = bytes(answer["Plaintext"]).decode()
    with _lock:
        if len(_cache) >= _MAX_ENTRIES:
            _cache.clear()
        _cache[ciphertext] = (value, now)
    return value


def clear_cache() -> None:
    with _lock:
        _cache.clear()


caches.append(clear_cache)
