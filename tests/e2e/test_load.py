"""Thirty-two clients against `make run`'s server at once: nothing acknowledged is lost or
doubled, and every audit chain still verifies.

The short form of `python -m bench.load` (the same code): a few seconds of every declared
route, reads and writes, over three tenants. It asserts correctness only, never timing: how
many requests lose a race (409, 412, 429, a 503 with Retry-After) depends on the machine,
so those are figures; what they must not do is change anything.
"""

from __future__ import annotations

import pytest

from bench import load

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("load")]


def test_thirty_two_concurrent_clients_lose_no_write_and_double_none() -> None:
    # GIVEN the local stack and three tenants
    # WHEN 32 clients send every kind of request for six seconds (every route once first,
    # however long that takes within the hard stop)
    result = load.run(clients=32, seconds=6, tenants=3, request_timeout=30)

    # THEN nothing failed on the server or the wire: no 5xx but a 503 with Retry-After, no
    # 4xx but the contention answers, no unhandled error, and every route was loaded
    errors = result["errors"]
    assert (errors["5xx"], errors["connection"], errors["unexpected_4xx"]) == (0, 0, 0), errors
    assert result["server"]["unhandled_errors"] == 0, result["server"]["first_traceback"]
    assert result["routes_not_loaded"] == []
    # AND every acknowledged write is recorded exactly once, in its own tenant's chain, no
    # refused write (contention included) at all, and what the writes made reads back
    checked = result["verification"]
    assert checked["failures"] == {}
    assert checked["acknowledged_exactly_once"] == checked["acknowledged_writes"] > 0
    assert checked["created_checked"] > 0
    # AND every chain touched, the three tenants' and those created under load, verifies
    assert (
        checked["chains_valid"]
        == checked["tenants_checked"]
        == 3 + checked["tenants_created_under_load"]
    )
