"""moto's state copied out and back in: each test process provisions the declared resources
once, and every later test starts from a copy of what that left.

Provisioning every resource of `infra/resources.py` through boto3 (tables, buckets, queues,
topics and their subscriptions, keys, secrets, the state machine, schedules) took about a
quarter of a second per test, several hundred times a run. A copy of moto's backends after
it takes a few milliseconds and gives the test the same resources, empty, under the same
names and ARNs; moto resets them when the test's `mock_aws` ends, as it would have reset
the ones provisioning made.

What the tests of one process share: the ids and ARNs moto generated (key ARNs, queue
URLs) and the secrets provisioning generated (the cursor signing key). Nothing in a test may
depend on those differing from another test's.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from moto.core.base_backend import BackendDict, BaseBackend
from moto.s3.models import s3_backends

T = TypeVar("T")
# Every service backend moto has made since its last reset (a class attribute of moto's).
_INSTANCES: list[BackendDict[Any]] = BackendDict._instances  # type: ignore[misc]


def _copy(backends: tuple[BaseBackend, ...]) -> tuple[BaseBackend, ...]:
    """A deep copy of backends, in one pass, so that objects pointing back at their backend
    (an SNS topic at its SNS backend) or at another point at the copies. An SQS queue
    guards its messages with a threading.Condition, which cannot be copied: each copied
    queue gets a new one."""
    memo: dict[int, Any] = {}
    for backend in backends:
        queues = getattr(backend, "queues", None)
        for queue in queues.values() if isinstance(queues, dict) else ():
            lock = getattr(queue, "_messages_lock", None)
            if isinstance(lock, threading.Condition):
                memo[id(lock)] = threading.Condition()
    return copy.deepcopy(backends, memo)


@dataclass(frozen=True)
class MotoState:
    """Every backend moto holds at the moment of `capture`, where it sits (service, account,
    region), and the S3 bucket directory moto keeps beside them (bucket to account)."""

    places: tuple[tuple[BackendDict[Any], str, str], ...]
    backends: tuple[BaseBackend, ...]
    bucket_accounts: dict[str, tuple[str, str]]

    @classmethod
    def capture(cls) -> MotoState:
        found = [
            ((service, account_id, region), backend)
            for service in list(_INSTANCES)
            for account_id, region, backend in service.iter_backends()
        ]
        return cls(
            tuple(place for place, _ in found),
            _copy(tuple(backend for _, backend in found)),
            dict(s3_backends.bucket_accounts),
        )

    def restore(self) -> None:
        """Into a `mock_aws` just started (whose backends moto has just reset): a fresh copy
        of every captured backend, so one test's writes never reach the next test."""
        for (service, account_id, region), backend in zip(
            self.places, _copy(self.backends), strict=True
        ):
            # An account's backend dict makes a region's backend on first use; this one is
            # given instead.
            dict.__setitem__(service[account_id], region, backend)
        s3_backends.bucket_accounts.update(self.bucket_accounts)


class Calls:
    """How many AWS calls in-process moto has answered so far in this process."""

    count = 0

    @classmethod
    def counting(cls) -> Callable[[], None]:
        """Count from now on; returns what stops counting."""
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.process_request

        def process_request(self: BotocoreStubber, request: Any) -> Any:
            cls.count += 1
            return original(self, request)

        BotocoreStubber.process_request = process_request  # type: ignore[method-assign]

        def stop() -> None:
            BotocoreStubber.process_request = original  # type: ignore[method-assign]

        return stop


class Checkpoints:
    """moto's state after the same setup steps (a tenant made, keys rotated), taken from a
    fresh provisioning, replayed: the first test of a process to take those steps takes
    them through the API and the state is kept; a later test gets a copy of it instead.

    A step is replayed only when nothing else has called AWS since provisioning but the
    steps before it, and on the system clock: what a test does first, or under a clock of
    its own, is taken for real. The app's process caches are cleared after every step,
    replayed or not, so a test sees the same thing either way."""

    def __init__(self) -> None:
        self._saved: dict[tuple[Hashable, ...], tuple[MotoState, Any]] = {}
        self._path: tuple[Hashable, ...] | None = None
        self._calls = 0

    def provisioned(self, key: Hashable) -> None:
        """moto now holds exactly what provisioning under `key` makes."""
        self._path, self._calls = (key,), Calls.count

    def step(self, step: Hashable, take: Callable[[], T]) -> T:
        """`take()`, or a copy of what it returned and left in moto when it was taken."""
        from chalicelib import bootstrap, clock

        replayable = (
            self._path is not None and Calls.count == self._calls and clock._clock is clock._system
        )
        if not replayable or self._path is None:
            self._path = None
            return take()
        path = (*self._path, step)
        if path in self._saved:
            state, result = self._saved[path]
            state.restore()
            taken: T = copy.deepcopy(result)
        else:
            taken = take()
            self._saved[path] = MotoState.capture(), copy.deepcopy(taken)
        bootstrap.reset()
        self._path, self._calls = path, Calls.count
        return taken
