"""Which fault cases `make test` runs: every call site, a rotating share of the rest, and
everything under FAULTS=all."""

from __future__ import annotations

import pytest

from tests.harness import sampling

SITES = [f"dynamodb.GetItem#{n}" for n in range(8)]
CASES = [(site, kind, times) for site in SITES for kind in "abcdef" for times in (1, 2)]


def sampled(monkeypatch: pytest.MonkeyPatch, seed: int) -> list[tuple[str, str, int]]:
    monkeypatch.delenv(sampling.FAULTS_ENV, raising=False)
    monkeypatch.setenv(sampling.SEED_ENV, str(seed))
    return sampling.sample(CASES, lambda case: case[0])


def test_the_default_sample_has_a_case_at_every_site_and_far_fewer_cases(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = sampled(monkeypatch, 7)
    assert {site for site, _, _ in chosen} == set(SITES)
    assert len(chosen) < len(CASES) / 2
    assert chosen == [case for case in CASES if case in chosen]  # the cases' own order


def test_a_seed_picks_the_same_sample_every_time_and_another_seed_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert sampled(monkeypatch, 7) == sampled(monkeypatch, 7)
    assert sampled(monkeypatch, 7) != sampled(monkeypatch, 8)
    # Over a few weeks of daily seeds every case gets its turn.
    seen = {case for seed in range(40) for case in sampled(monkeypatch, seed)}
    assert seen == set(CASES)


def test_faults_all_takes_every_case_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sampling.FAULTS_ENV, "all")
    assert sampling.sample(CASES, lambda case: case[0]) == CASES
    assert sampling.describe() == "FAULTS=all: every case"


def test_a_sampled_run_names_the_seed_that_reproduces_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sampling.FAULTS_ENV, raising=False)
    monkeypatch.setenv(sampling.SEED_ENV, "42")
    assert "FAULTS_SEED=42 reproduces it" in sampling.describe()
