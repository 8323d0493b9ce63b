"""Count AWS API calls through botocore's own event system.

The app builds each client from a new `boto3.session.Session()` (see
chalicelib/bootstrap.py), so a handler registered on one client or session would
miss the others. Instead the counter joins botocore's BUILTIN_HANDLERS, which
every botocore session registers when it is created: install it before the first
session exists and it sees every call. moto hooks in the same way.

Only calls made on the recording thread count: moto's Step Functions runs executions on
threads of its own, and their calls (a state sending its message) are not the app's.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.handlers

# Calls made while a frame of this file is on the stack are the API-key lookup.
_AUTH_FILE = str(Path("chalicelib") / "auth.py")
KEY_LOOKUP = "key lookup"
SECRETS = "secrets"
REQUEST = "request"


@dataclass
class Calls:
    """The AWS calls of one recording, grouped by what made them."""

    by_part: dict[str, Counter[str]] = field(
        default_factory=lambda: {KEY_LOOKUP: Counter(), SECRETS: Counter(), REQUEST: Counter()}
    )
    services: set[str] = field(default_factory=set)

    def add(self, part: str, operation: str, service: str) -> None:
        self.by_part[part][operation] += 1
        self.services.add(service)

    def total(self, part: str) -> int:
        return sum(self.by_part[part].values())


class CallCounter:
    """Records every AWS API call (one per `client.<operation>()`, retries not counted)."""

    def __init__(self) -> None:
        self._current: Calls | None = None
        self._thread: int | None = None
        self._installed = False

    def install(self) -> None:
        """Hook every botocore session created from now on (idempotent)."""
        if not self._installed:
            botocore.handlers.BUILTIN_HANDLERS.append(("before-call", self._on_call))
            self._installed = True

    @contextmanager
    def record(self) -> Iterator[Calls]:
        """Count the calls made inside the `with` block."""
        calls = Calls()
        self._current, self._thread = calls, threading.get_ident()
        try:
            yield calls
        finally:
            self._current = None

    def _on_call(self, model: Any = None, **_: Any) -> None:
        if self._current is None or model is None or threading.get_ident() != self._thread:
            return
        service = model.service_model
        operation = f"{str(service.service_id).replace(' ', '')}.{model.name}"
        self._current.add(_part(service.service_name), operation, service.service_name)


def _part(service_name: str) -> str:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(_AUTH_FILE):
            return KEY_LOOKUP
        frame = frame.f_back  # type: ignore[assignment]
    return SECRETS if service_name == "secretsmanager" else REQUEST


def describe(counts: Counter[str]) -> str:
    """`DynamoDB.GetItem: 1, DynamoDB.Query: 1`, or `-` for none."""
    return ", ".join(f"{op}: {n}" for op, n in sorted(counts.items())) or "-"
