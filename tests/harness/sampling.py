"""Which fault cases a run takes: all of them (`FAULTS=all`, `make test-faults`), or by
default a deterministic sample that keeps `make test` short.

The sample keeps, for every call site, one representative case (which of its kinds and
durations represents it rotates with the seed), plus about one case in `ROTATION` of
the others, picked by a hash of the case and the seed. The seed is the day (UTC) unless
`FAULTS_SEED` gives one, so a day's runs repeat each other, and over days every case
gets its turn. A failure names the seed: `FAULTS_SEED=<seed>` reproduces it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import TypeVar

FAULTS_ENV = "FAULTS"
SEED_ENV = "FAULTS_SEED"
ROTATION = 8

C = TypeVar("C")


def everything() -> bool:
    """Whether this run takes every case (`FAULTS=all`)."""
    return os.environ.get(FAULTS_ENV, "").strip().lower() == "all"


def seed() -> int:
    text = os.environ.get(SEED_ENV, "").strip()
    return int(text) if text else datetime.now(UTC).date().toordinal()


def describe() -> str:
    """How this run chose its cases, for failure messages."""
    if everything():
        return f"{FAULTS_ENV}=all: every case"
    return f"a sample ({SEED_ENV}={seed()} reproduces it; {FAULTS_ENV}=all runs every case)"


def _draw(text: str, salt: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{text}".encode()).digest()[:8], "big")


def sample(cases: list[C], site_of: Callable[[C], Hashable]) -> list[C]:
    """`cases` whole under `FAULTS=all`; else one per site and a rotating share of the
    rest (see the module docstring), in their original order."""
    if everything():
        return list(cases)
    salt = seed()
    by_site: dict[Hashable, list[C]] = {}
    for case in cases:
        by_site.setdefault(site_of(case), []).append(case)
    chosen = {id(alike[_draw(str(site), salt) % len(alike)]) for site, alike in by_site.items()}
    chosen |= {id(c) for c in cases if _draw(str(c), salt) % ROTATION == 0}
    return [c for c in cases if id(c) in chosen]
