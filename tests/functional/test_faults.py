"""AWS failing under every route (issue 4): throttling, provisioned throughput exceeded,
TransactionConflict, InternalServerError, a refused connection, and an answer lost after
the write applied, injected at every AWS call each route makes.

The calls are not listed here: each operation the app declares is sent once with cold
caches and once with warm ones while its calls are recorded (`fault_world`), and every
distinct call gets every fault that can happen there, failing for good or once or twice.
Calls that only a failure path makes (the writer confirming a transaction whose answer
was lost) are found the same way, from the faulted runs, and fail in turn.

A route then answers a clean 503 (problem+json, Retry-After, its request id) with the
table exactly as it was, or succeeds with its change made once: the same changes as a
clean run, one audit event and its outbox events naming the request, and a chain that
still verifies. The one 503 that may follow a change is outcome-unknown: a write whose
answer was lost and whose confirmation failed too; the change, if made, is then whole.

By default a sample of the cases runs (tests/harness/sampling.py: every call site, plus a
share that rotates daily); `make test-faults` (FAULTS=all) runs every one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.api.http import Operation
from chalicelib.config import settings
from chalicelib.errors import PROBLEM_BASE, OutcomeUnknownError
from tests.functional.fault_world import (
    Case,
    FaultWorld,
    Outcome,
    PreparedOp,
    Relay,
    changed,
    clean_unavailable,
    committed_once,
    outbox_event_ids,
    partly_done,
    tenants_of,
    unchanged,
)
from tests.functional.route_fixtures import running_api
from tests.harness import sampling
from tests.harness.exercise import operations
from tests.harness.faults import KINDS, Faults, Site

OPS = operations()
OUTCOME_UNKNOWN = PROBLEM_BASE + OutcomeUnknownError.slug
# Two halves, each run whole by one xdist worker so that its world is built once there;
# writes cost the most (a transaction, a chain to verify), so each half gets half of them.
GROUPS = ("faults-a", "faults-b")


def _halved(ops: list[Operation]) -> list[Any]:
    params = []
    for writes in (False, True):
        alike = [op for op in ops if (op.method != "GET") is writes]
        for index, op in enumerate(alike):
            group = pytest.mark.xdist_group(GROUPS[index % 2])
            params.append(pytest.param(op, id=f"{op.method} {op.path}", marks=group))
    return params


EVERY_OP = _halved(OPS)


@pytest.fixture(scope="module")
def world() -> Iterator[FaultWorld]:
    faults = Faults()
    with pytest.MonkeyPatch.context() as patch:
        faults.install(patch)
        with running_api() as api:  # builds its clients after the hook: quotas tracked
            yield FaultWorld(api, faults, settings().table)


def cases(prepared: PreparedOp, times: tuple[int | None, ...]) -> list[Case]:
    """The faults that can happen at every distinct call the operation makes, failing
    `times` attempts: all of them under FAULTS=all, else a sample covering every call."""
    every = [
        Case(prepared, at, kind, n)
        for at in prepared.sites
        for kind in KINDS.values()
        if kind.applies(at.site)
        for n in times
    ]
    return sampling.sample(every, lambda case: (case.prepared.label, case.at))


def verdict(problems: list[str]) -> str:
    return "\n".join([f"{len(problems)} problems; {sampling.describe()}", *problems])


def succeeded(world: FaultWorld, case: Case, outcome: Outcome) -> list[str]:
    problems = committed_once(case.prepared, outcome)
    if not problems:
        problems += world.verify_chains(tenants_of(changed(case.prepared.before, outcome.after)))
    return problems


def failed(world: FaultWorld, case: Case, outcome: Outcome) -> list[str]:
    """A 503 changes nothing; but when a write's answer was lost and confirming it failed
    too (outcome-unknown), the write may have been made, and then made whole."""
    problems = clean_unavailable(outcome.answer)
    if outcome.answer.json.get("type") == OUTCOME_UNKNOWN:
        if changed(case.prepared.before, outcome.after):
            problems += succeeded(world, case, outcome)
    else:
        problems += unchanged(case.prepared.before, outcome.after)
        problems += partly_done(case.prepared, outcome.after)
    return problems


def judged(world: FaultWorld, case: Case, outcome: Outcome, *, may_fail: bool) -> list[str]:
    """What is wrong with the outcome of `case`, each problem naming the case."""
    status = outcome.answer.status
    if outcome.hits == 0:
        problems = ["the fault never fired: the call was not made"]
    elif status == case.prepared.op.status:
        problems = succeeded(world, case, outcome)
    elif status == 503 and may_fail:
        problems = failed(world, case, outcome)
    else:
        problems = [f"answered {status}: {outcome.answer.raw[:300]!r}"]
    trail = "\n      ".join(outcome.log)
    return [f"{case}: {p}\n      {trail}" for p in problems]


@pytest.mark.parametrize("op", EVERY_OP)
def test_a_call_that_keeps_failing_answers_503_with_retry_after_and_changes_nothing(
    world: FaultWorld, op: Operation
) -> None:
    """GIVEN an operation's request, WHEN one of its AWS calls fails on every attempt
    (and so does every later call of that kind), THEN the answer is a clean 503 and the
    table is byte-identical, or the route copes and succeeds with its change made once
    (a lost answer to a committed write is confirmed from the audit event it wrote).
    Each call the failure path makes then fails as well."""
    prepared = world.prepared(op)
    problems = []
    for case in cases(prepared, (None,)):
        outcome = world.run(case)
        problems += judged(world, case, outcome, may_fail=True)
        for call in outcome.new_calls:  # the failure path's own calls fail as well
            then = replace(case, then=call)
            problems += judged(world, then, world.run(then), may_fail=True)
    assert not problems, verdict(problems)


@pytest.mark.parametrize("op", EVERY_OP)
def test_a_call_that_fails_once_or_twice_then_recovers_succeeds_with_its_change_made_once(
    world: FaultWorld, op: Operation
) -> None:
    """GIVEN an operation's request, WHEN one of its AWS calls fails once or twice and
    then goes through (botocore retries it; the writer re-reads after a conflict; a retry
    after a lost answer is recognised by its token), THEN the route succeeds, with the
    same changes as a clean run, one audit event and its outbox events."""
    prepared = world.prepared(op)
    problems = []
    for case in cases(prepared, (1, 2)):
        problems += judged(world, case, world.run(case), may_fail=False)
    assert not problems, verdict(problems)


@pytest.mark.xdist_group(GROUPS[0])
def test_every_operation_but_health_makes_aws_calls_and_so_gets_faults(
    world: FaultWorld,
) -> None:
    """The fault tests cover an operation only through the calls it makes: one that made
    none would pass them vacuously. Health is the one that should make none: liveness is
    answered by the process alone, so a struggling dependency never fails it."""
    silent = [f"{op.method} {op.path}" for op in OPS if not world.prepared(op).sites]
    assert silent == ["GET /v1/health"]


@pytest.mark.xdist_group(GROUPS[1])
@pytest.mark.parametrize(
    "kind, times",
    [
        ("throttling", 4),
        ("internal", 4),
        ("connection", 4),
        ("lost-response", 4),
        ("partial-publish", 2),
    ],
)
def test_the_outbox_relay_delivers_every_event_despite_topic_faults(
    world: FaultWorld, kind: str, times: int
) -> None:
    """GIVEN committed changes whose outbox events are on the table's stream, WHEN the
    relay's SendMessageBatch fails `times` attempts (more than botocore retries, so whole
    relay invocations fail), THEN passing over the stream again (as Lambda retries a
    failed batch) puts every event on the queue at least once."""
    world.reset()
    for number in range(12):  # two SQS batches' worth, with the tenant's own events
        body = {"name": f"Model {number}", "purpose": "relay", "risk_tier": 2}
        assert world.api.post("/v1/models", world.tenant.keys["developer"], body).status == 201
    expected = outbox_event_ids(world.snapshot())
    relay = Relay()
    relay.take_event_ids()  # what earlier tests left
    fault = world.faults.inject(Site("sns", "PublishBatch"), kind, times)
    delivered: list[str] = []
    for _ in range(8):  # the stream consumer retries a failed batch up to 10 times
        relay.pump()
        delivered += relay.take_event_ids()
        if expected <= set(delivered):
            break
    world.faults.clear()
    assert fault.hits == times
    assert expected - set(delivered) == set(), "events lost"
