"""A unit of work: the one shape in which governed state changes.

A unit gathers the data operations of a change, each under a name; the audit entries that
record it (one change may be several facts: a decision that also closes a stage); the typed
domain events it announces; and, for a creating request with an Idempotency-Key, the answer
a replay returns. `TenantStore.commit` writes all of it, with the audit chain's new events
and head, in one TransactWriteItems: all of it commits or none of it does.

A failed condition is mapped to an error by the name of the operation that failed, never by
its position in the transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.errors import ConflictError, CustosError
from chalicelib.store import dynamo
from chalicelib.store.invalidation import Stale

if TYPE_CHECKING:  # the catalog imports every payload model: not on a read's path
    from chalicelib.domain.events import DomainEvent

# TransactWriteItems takes 100 items; the chain head and each audit entry take one.
MAX_ITEMS = 100

Failure = Callable[[], Exception]


class RetryError(Exception):
    """Raised by a failure factory to ask the service to re-read and rebuild the unit."""


class AlreadyAppliedError(Exception):
    """The unit's `once` marker exists: this message was applied before, whole."""


ONCE = "once"


class AuditEntry(NamedTuple):
    """One fact for the audit trail: what was done to which subject, before and after."""

    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class IdempotentResponse(NamedTuple):
    """What a replay of this request answers, stored under `key` with the change."""

    key: dict[str, str]
    request_hash: str
    status: int
    body: str  # the answer's exact bytes, as text
    headers: dict[str, str]


class Step(NamedTuple):
    name: str
    op: dict[str, Any]
    on_failure: Failure | None


def _default_conflict() -> CustosError:
    return ConflictError("the object changed concurrently")


class UnitOfWork:
    """The data operations, audit entries, events and stored answer of one change."""

    # A plain class and NamedTuples above, not dataclasses: every cold start imports this
    # module, and @dataclass compiles its generated methods at import.
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.entries: list[AuditEntry] = []
        self.events: list[DomainEvent] = []
        self.answer: IdempotentResponse | None = None
        self.stale: list[Stale] = []

    def add(self, name: str, op: dict[str, Any], on_failure: Failure | None = None) -> UnitOfWork:
        """Add a data operation; `on_failure` makes the error its failed condition means."""
        if any(step.name == name for step in self.steps):
            raise ValueError(f"the unit of work already has an operation named {name}")
        self.steps.append(Step(name, op, on_failure))
        return self

    def record(
        self,
        action: str,
        subject_type: str,
        subject_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> UnitOfWork:
        """Add an audit entry; entries are appended to the chain in this order."""
        self.entries.append(AuditEntry(action, subject_type, subject_id, before, after))
        return self

    def emit(self, *events: DomainEvent) -> UnitOfWork:
        """Announce declared domain events (made with `EventType.of`)."""
        self.events.extend(events)
        return self

    def once(self, marker: dict[str, str], keep_days: int = 14) -> UnitOfWork:
        """Apply this unit at most once: it also creates `marker` (a processed-message
        key), and if the marker exists the commit raises AlreadyAppliedError. Consumers
        use it, since a queue delivers at least once."""
        expires = int(time.time()) + keep_days * 86400
        return self.add(
            ONCE,
            dynamo.create_op(marker, {"expires_at": expires}),
            AlreadyAppliedError,
        )

    def replay_answer(self, response: IdempotentResponse | None) -> UnitOfWork:
        """Store the answer a replay of this request returns (None: no Idempotency-Key)."""
        self.answer = response
        return self

    def invalidates(
        self, tenant_id: str, *, principal_id: str | None = None, key_id: str | None = None
    ) -> UnitOfWork:
        """Name cached lookups this change makes stale, forgotten once it commits."""
        self.stale.append(Stale(tenant_id, principal_id, key_id))
        return self

    def failure(self, names: list[str]) -> Exception:
        """The error for the operations `names` whose conditions failed: the first one's,
        or, when each names offending fields of the same kind (several team members who
        are not developers), one error naming them all."""
        found = [self._failure(name) for name in names]
        first = found[0]
        if len(found) > 1 and isinstance(first, CustosError):
            alike = [e for e in found if type(e) is type(first) and isinstance(e, CustosError)]
            if len(alike) == len(found) and all(e.errors for e in alike):
                detail = "; ".join(e.detail for e in alike)
                return type(first)(detail, errors=[f for e in alike for f in e.errors])
        return first

    def _failure(self, name: str) -> Exception:
        step = next(s for s in self.steps if s.name == name)
        return (step.on_failure or _default_conflict)()

    def size(self) -> int:
        """Transaction items this unit needs, the chain's included."""
        head = 1 if self.entries else 0
        idempotency = 1 if self.answer is not None else 0
        return len(self.steps) + len(self.entries) + head + len(self.events) + idempotency
