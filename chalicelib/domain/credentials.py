"""API-key secrets: minted here, stored only as hashes, compared in constant time by auth."""

from __future__ import annotations

import hashlib
import secrets


def mint_secret(key_id: str) -> tuple[str, str]:
    """A new bearer token for `key_id` and the hash to store: (token, hash)."""
    secret = secrets.token_urlsafe(32)
    return f"cus_{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()
