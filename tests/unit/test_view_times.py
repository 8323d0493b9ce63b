"""Times in a GET's answer are written exactly as pydantic writes a `datetime`, whatever
shape the stored text has (`domain/views.py`)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import TypeAdapter

from chalicelib.domain.views import timestamp

PYDANTIC = TypeAdapter(datetime)


@pytest.mark.parametrize(
    "stored",
    [
        "2026-12-01T09:00:00.123Z",  # what the services store: milliseconds, Z
        "2026-12-01T09:00:00.000Z",  # a whole second: no fraction at all
        "2026-12-01T09:00:00.100Z",  # trailing zeros: six digits all the same
        "2026-12-01T09:00:00Z",
        "2026-12-01T09:00:00.123456+00:00",  # a key's expiry, as the client sent it
        "2026-12-01T09:00:00.5+02:00",
        "2026-12-01T09:00:00-05:30",
        "2026-12-01T09:00:00",  # no offset stays without one
    ],
)
def test_a_stored_time_is_written_as_pydantic_writes_it(stored: str) -> None:
    expected = PYDANTIC.dump_python(PYDANTIC.validate_python(stored), mode="json")
    assert timestamp(stored) == expected


def test_an_absent_time_stays_null() -> None:
    assert timestamp(None) is None
