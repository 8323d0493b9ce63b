"""A unit of work names its operations; a failed condition becomes the error of its name."""

from __future__ import annotations

import functools

import pytest

from chalicelib.domain import events
from chalicelib.errors import ConflictError, DomainRuleError, FieldError, NotFoundError
from chalicelib.store.unit import UnitOfWork

PUT = {"Put": {"TableName": "t", "Item": {}}}


def refused(field: str) -> DomainRuleError:
    return DomainRuleError(f"{field} refused", errors=[FieldError(field, "refused")])


def test_a_failure_maps_to_the_error_of_the_operation_that_failed() -> None:
    unit = UnitOfWork()
    unit.add("owner", PUT, lambda: refused("body.owner_id"))
    unit.add("model", PUT, lambda: NotFoundError("gone"))
    assert isinstance(unit.failure(["model"]), NotFoundError)
    assert str(unit.failure(["owner"])) == "body.owner_id refused"


def test_an_operation_without_a_failure_is_a_conflict() -> None:
    assert isinstance(UnitOfWork().add("x", PUT).failure(["x"]), ConflictError)


def test_several_failed_field_checks_are_reported_together() -> None:
    unit = UnitOfWork()
    for n in range(3):
        unit.add(f"team:{n}", PUT, functools.partial(refused, f"body.developer_ids[{n}]"))
    merged = unit.failure(["team:0", "team:2"])
    assert isinstance(merged, DomainRuleError)
    assert [e.field for e in merged.errors] == ["body.developer_ids[0]", "body.developer_ids[2]"]


def test_names_are_unique_in_a_unit() -> None:
    with pytest.raises(ValueError, match="already has an operation named model"):
        UnitOfWork().add("model", PUT).add("model", PUT)


def test_the_size_counts_the_chain_events_and_stored_answer() -> None:
    unit = UnitOfWork().add("a", PUT).add("b", PUT)
    unit.record("x.done", "x", "x_1").record("y.done", "y", "y_1")
    unit.emit(events.DomainEvent("model.created", {}))
    # two operations, two audit events, the chain head, one outbox event
    assert unit.size() == 6
