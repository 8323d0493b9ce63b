"""Test-only access to the executions of moto's Step Functions, run in this process with
`mock_aws(config={"stepfunctions": {"execute_state_machine": True}})`: what runs, which
task tokens an execution waits on, and putting that world back as it was.

Fault cases replay one consumer input many times from the same state. The table is put
back with `moto_table.restore`; executions cannot be copied (each is a live thread), so
`restore` stops every execution and starts the ones that were running again, with their
own names and inputs. A restarted execution waits on a new task token; the table still
holds the old one, so every item attribute holding an old token is given the new one.
From the app's side the world is then as it was: the same executions running, waiting
on the tokens the table keeps.

This reads moto's execution objects (its parser backend); nothing of the app's does.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import DefaultConfig

from tests.harness import moto_table

# What `mock_aws(config=...)` takes to run state machines.
EXECUTING: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}
WAIT_SECONDS = 10.0  # for a restarted execution to reach its task; bounded


@dataclass(frozen=True)
class Running:
    """An execution that was running, and the task tokens it was waiting on."""

    machine_arn: str
    name: str
    input: str
    waiting_on: tuple[str, ...]


def _backend(region: str = "us-east-1") -> Any:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][region]


def _pool(execution: Any) -> dict[str, Any]:
    """The task tokens the execution has handed out (none before its thread has begun)."""
    env = getattr(getattr(execution, "exec_worker", None), "env", None)
    return dict(env.callback_pool_manager._pool) if env is not None else {}


def _answered(endpoint: Any) -> bool:
    return getattr(endpoint, "_outcome", None) is not None


def _running(execution: Any) -> bool:
    status = execution.exec_status
    return str(getattr(status, "value", status)) == "RUNNING"


def _executions(region: str = "us-east-1") -> list[tuple[Any, Any]]:
    return [(m, e) for m in _backend(region).state_machines for e in m.executions]


def snapshot(region: str = "us-east-1") -> tuple[Running, ...]:
    """The running executions, each with the task tokens nobody has answered yet."""
    return tuple(
        Running(
            machine.arn,
            execution.name,
            str(execution.execution_input or "{}"),
            tuple(t for t, endpoint in _pool(execution).items() if not _answered(endpoint)),
        )
        for machine, execution in _executions(region)
        if _running(execution)
    )


def stop_all(region: str = "us-east-1") -> None:
    """Stop every execution and forget it; a thread waiting on a token is woken (and finds
    its execution stopped) rather than left waiting out its timeout."""
    now = datetime.now(UTC)
    for machine, execution in _executions(region):
        if _running(execution) and _begun(execution):
            execution.stop(stop_date=now, error="harness", cause="restored")
        for endpoint in _pool(execution).values():
            endpoint.interrupt_all()
        machine.executions.remove(execution)


def _begun(execution: Any) -> bool:
    """Wait (bounded) for a just-started execution's thread to set up its environment,
    which stopping it needs."""
    deadline = time.monotonic() + WAIT_SECONDS
    while getattr(execution.exec_worker, "env", None) is None:
        if time.monotonic() > deadline or execution.exec_worker is None:
            return False
        time.sleep(0.005)
    return True


def restore(world: tuple[Running, ...], table: str, region: str = "us-east-1") -> None:
    """Stop everything, then start the executions of `world` anew and hand the table the
    new tokens they wait on (see the module docstring)."""
    stop_all(region)
    backend = _backend(region)
    for running in world:
        execution = backend.start_execution(running.machine_arn, running.name, running.input)
        tokens = _wait_for_tokens(execution, len(running.waiting_on))
        for old, new in zip(running.waiting_on, tokens, strict=True):
            moto_table.replace_value(table, old, new, region)


def _wait_for_tokens(execution: Any, count: int) -> list[str]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        tokens = [t for t, endpoint in _pool(execution).items() if not _answered(endpoint)]
        if len(tokens) >= count:
            return tokens[:count]
        time.sleep(0.005)
    raise AssertionError(f"execution {execution.name} did not reach its task again")


@dataclass(frozen=True)
class Effects:
    """What the app did to Step Functions: the executions there are (by name), and how
    many task tokens of each have been answered."""

    executions: frozenset[str]
    answered: Counter[str]

    def __str__(self) -> str:
        return f"executions {sorted(self.executions)}, answered {dict(self.answered)}"


def effects(region: str = "us-east-1") -> Effects:
    answered: Counter[str] = Counter()
    names = set()
    for _, execution in _executions(region):
        names.add(execution.name)
        answered[execution.name] += sum(_answered(e) for e in _pool(execution).values())
    return Effects(frozenset(names), +answered)
