"""Standard Webhooks signatures: what lets a receiver trust a delivery is ours.

A subscription's secret is `whsec_` and the base64 of 24 random bytes. A delivery is signed
as `v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")), the key being the secret's
bytes after the prefix, and the `webhook-signature` header carries one such signature per
secret, space-separated: while a rotated secret's overlap lasts, both the old and the new one
sign, so a receiver verifies with whichever it holds. The `standardwebhooks` reference
library verifies these unchanged (tests/unit/test_signatures.py).

Pure: standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random

PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and the base64 of 24 random bytes."""
    return PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,` signature of one delivery (its id, its Unix timestamp in seconds, its body)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one signature per secret, space-separated."""
    if not secrets:
        raise ValueError("a delivery needs at least one secret to sign with")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def webhook_headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }


def _key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ and base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key
