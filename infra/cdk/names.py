"""Names the stack gives declared resources; free of aws_cdk so tests can import it."""

from __future__ import annotations

import re

# Logical-id suffix per declared kind: a declared table "Main" is "MainTable".
SUFFIX = {
    "table": "Table",
    "bucket": "Bucket",
    "queue": "Queue",
    "dlq": "DeadLetterQueue",
    "secret": "Secret",
    "key": "Key",
    "state_machine": "StateMachine",
    "topic": "Topic",
    # A grant on a state machine's executions names the machine.
    "executions": "StateMachine",
}


def logical_id(kind: str, name: str) -> str:
    """The template logical id of the declared resource `name` of `kind`."""
    return f"{name}{SUFFIX[kind]}"


def convention_env_var(name: str, what: str) -> str:
    """Env var of declarations without `env_var` (keys, state machines): CUSTOS_<NAME>_<WHAT>."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()
    return f"CUSTOS_{snake}_{what}"
