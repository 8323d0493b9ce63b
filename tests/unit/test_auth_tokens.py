"""API-key tokens: minted with their hash; the secret itself is never stored."""

from __future__ import annotations

import pytest

from chalicelib import auth
from chalicelib.domain import credentials
from chalicelib.errors import UnauthenticatedError


def test_minted_tokens_carry_the_key_id_and_hash_to_the_stored_digest() -> None:
    token, digest = credentials.mint_secret("key_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert token.startswith("cus_key_01ARZ3NDEKTSV4RRFFQ69G5FAV_")
    secret = token.split("_", 3)[3]
    assert credentials.hash_secret(secret) == digest and secret not in digest


@pytest.mark.parametrize("header", [None, "", "Token abc", "Bearer"])
def test_requests_without_a_bearer_token_are_unauthenticated(header: str | None) -> None:
    with pytest.raises(UnauthenticatedError, match="Authorization: Bearer"):
        auth.authenticate(header, "req_1")
