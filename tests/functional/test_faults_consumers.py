"""AWS failing under every entry point no HTTP request starts: each queue consumer, stream
consumer and schedule the app declares, at every AWS call it makes.

Nothing is listed here. The entry points come from the declarations (`RESOURCES`), their
inputs from running the system (`tests.harness.scenario`, the approval workflow executed
by moto's Step Functions and driven by the local dispatcher), and their calls from
replaying each input cleanly, cold and warm (`consumer_world`). Every distinct call then
gets every fault that can happen there (tests/harness/faults.py), failing for good or
once or twice, and the function is called as Lambda calls it: an SQS event with the one
message, the stream batch, the scheduled event.

A call that keeps failing makes Lambda count the input as failed (the message in
batchItemFailures, the stream batch or the scheduled run raised) with nothing governed
changed; operational records written before the audited change by design (a kept task
token) may stay, and the input redelivered once the fault clears is then applied, once.
A call that fails once or twice is retried, and the input applied once. Applied once:
the same changes as a clean run (one audit event per fact, naming the input; the same
executions started, tokens answered, events published), and the chain verifies.

By default a sample of the cases runs (tests/harness/sampling.py); `make test-faults`
(FAULTS=all) runs every one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from chalicelib.config import settings
from tests.conftest import PLATFORM_KEY
from tests.functional.consumer_world import (
    Case,
    ConsumerWorld,
    Outcome,
    PreparedInput,
    applied_once,
    operational_only,
    with_then,
)
from tests.functional.fault_world import changed, tenants_of
from tests.functional.route_fixtures import running_api
from tests.harness import executions, sampling
from tests.harness.consumers import Capture, Entry, declared
from tests.harness.faults import KINDS, Faults
from tests.harness.scenario import Scenario
from tests.harness.tap import EventTap

ENTRIES = declared()
pytestmark = pytest.mark.xdist_group("faults-consumers")


@pytest.fixture(scope="module")
def world() -> Iterator[ConsumerWorld]:
    faults = Faults()
    with pytest.MonkeyPatch.context() as patch:
        faults.install(patch)
        with running_api(executions.EXECUTING) as api:  # builds its clients after the hook
            from app import app

            table = settings().table
            capture = Capture(app, table)
            with capture.installed():
                tenant = Scenario(api, PLATFORM_KEY, dict(os.environ)).run()
            tap = EventTap(boto3.session.Session(), settings().events_topic_arn)
            audit_keys = {tenant.id: tenant.keys["auditor"]}
            try:
                yield ConsumerWorld(app, api, faults, table, capture.inputs, audit_keys, tap)
            finally:
                executions.stop_all()


def cases(prepared: PreparedInput, times: tuple[int | None, ...]) -> list[Case]:
    """The sampled faults at the input's calls (every one under FAULTS=all)."""
    every = [
        Case(prepared, at, kind, n)
        for at in prepared.sites
        for kind in KINDS.values()
        if kind.applies(at.site)
        for n in times
    ]
    return sampling.sample(every, lambda case: (case.prepared.label, case.at))


def accepted(world: ConsumerWorld, case: Case, outcome: Outcome) -> list[str]:
    """Applied once, and the chains of the tenants it changed verify."""
    problems = applied_once(case.prepared, outcome)
    if not problems:
        problems += world.verify_chains(tenants_of(changed(outcome.before, outcome.after)))
    return problems


def judged_persistent(world: ConsumerWorld, case: Case, outcome: Outcome) -> list[str]:
    """Failed with nothing governed changed, then applied once on redelivery; or coped
    with and applied once."""
    if outcome.hits == 0:
        return ["the fault never fired: the call was not made"]
    if not outcome.reported.failed:
        return accepted(world, case, outcome)
    problems = operational_only(case, outcome)
    again = world.redeliver(case, outcome)
    if again.reported.failed:
        return [*problems, f"redelivered without the fault, {again.reported.detail}"]
    return problems + accepted(world, case, again)


def judged_transient(world: ConsumerWorld, case: Case, outcome: Outcome) -> list[str]:
    """Accepted at the first delivery, and applied once."""
    if outcome.hits == 0:
        return ["the fault never fired: the call was not made"]
    if outcome.reported.failed:
        return [f"the first delivery failed: {outcome.reported.detail}"]
    return accepted(world, case, outcome)


def named(case: Case, outcome: Outcome, problems: list[str]) -> list[str]:
    """Each problem with its case and the attempts the case's calls made."""
    trail = "\n      ".join(outcome.log)
    return [f"{case}: {p}\n      {trail}" for p in problems]


def verdict(problems: list[str]) -> str:
    """The assertion message: how many problems, how the cases were chosen, each one."""
    return "\n".join([f"{len(problems)} problems; {sampling.describe()}", *problems])


def test_every_declared_consumer_and_schedule_is_handed_an_input_by_the_running_system(
    world: ConsumerWorld,
) -> None:
    """The fault tests cover an entry point only through the inputs the running system
    handed it: one the scenario never reaches would pass them vacuously. Reaching it means
    making tests/harness/scenario.py do what triggers it."""
    without = [str(e) for e in ENTRIES if not any(i.entry == e for i in world.inputs)]
    assert without == [], f"the scenario hands these nothing: {without}"


def test_every_declared_consumer_and_schedule_makes_aws_calls_and_so_gets_faults(
    world: ConsumerWorld,
) -> None:
    silent = [str(e) for e in ENTRIES if not any(p.sites for p in world.prepared(e))]
    assert silent == []


@pytest.mark.parametrize("entry", ENTRIES, ids=str)
def test_a_call_that_keeps_failing_fails_the_input_and_its_redelivery_applies_it_once(
    world: ConsumerWorld, entry: Entry
) -> None:
    """GIVEN an input the entry point accepted, WHEN one of the AWS calls it makes fails
    on every attempt (and every later call of that kind), THEN Lambda counts the input as
    failed and nothing governed changed (operational records aside), and the input
    redelivered without the fault is applied once; or the function copes, and applies it
    once. Each call the failure path makes then fails as well."""
    problems = []
    for prepared in world.prepared(entry):
        for case in cases(prepared, (None,)):
            outcome = world.run(case)
            problems += named(case, outcome, judged_persistent(world, case, outcome))
            for call in outcome.new_calls:  # the failure path's own calls fail as well
                then = with_then(case, call)
                again = world.run(then)
                problems += named(then, again, judged_persistent(world, then, again))
    assert not problems, verdict(problems)


@pytest.mark.parametrize("entry", ENTRIES, ids=str)
def test_a_call_that_fails_once_or_twice_is_retried_and_the_input_applied_once(
    world: ConsumerWorld, entry: Entry
) -> None:
    """GIVEN an input the entry point accepted, WHEN one of its AWS calls fails once or
    twice and then goes through, THEN the input is accepted at the first delivery, with
    the same changes as a clean run."""
    problems = []
    for prepared in world.prepared(entry):
        for case in cases(prepared, (1, 2)):
            outcome = world.run(case)
            problems += named(case, outcome, judged_transient(world, case, outcome))
    assert not problems, verdict(problems)
