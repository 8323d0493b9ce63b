"""An AWS error that is ours to fix (a malformed request, a missing permission) leaves the
store as the very ClientError DynamoDB answered, so it is logged as a 500 and not passed off
as the data store's passing trouble (a 503 the client would retry for ever)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from chalicelib.store import dynamo
from tests.harness import aws_wire
from tests.harness.faults import Faults, Site, error_kind

KEY = {"pk": "T#ten_1#MODEL#mdl_1", "sk": "MODEL"}


def access_denied(service: str, body: bytes) -> aws_wire.Wire:
    """DynamoDB refusing a role that lacks the permission."""
    return aws_wire.json_error(
        "dynamodb",
        400,
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/custos is not authorized",
    )


ACCESS_DENIED = error_kind("access-denied", access_denied, lambda site: True)


def a_model_item() -> dict[str, object]:
    return dynamo.put_op({**KEY, "name": "Credit PD", "revision": 1})


@pytest.mark.usefixtures("aws")
def test_a_get_item_refused_for_want_of_permission_raises_dynamodbs_own_error(
    faults: Faults,
) -> None:
    # GIVEN DynamoDB refuses GetItem to the app's role
    faults.inject(Site("dynamodb", "GetItem"), ACCESS_DENIED)

    # WHEN the store reads an item, THEN the caller gets the original error
    with pytest.raises(ClientError, match="AccessDeniedException") as caught:
        dynamo.get(KEY)
    assert caught.value.operation_name == "GetItem"


@pytest.mark.usefixtures("aws")
def test_a_get_item_with_a_key_not_of_the_tables_schema_raises_the_validation_error() -> None:
    # WHEN the store reads with a key the table does not have (moto refuses it as DynamoDB
    # does), THEN the refusal is not mistaken for an item too large, the one
    # ValidationException the store translates
    with pytest.raises(ClientError, match="ValidationException") as caught:
        dynamo.get({"pk": KEY["pk"]})
    assert caught.value.operation_name == "GetItem"


@pytest.mark.usefixtures("aws")
def test_a_transaction_refused_for_want_of_permission_raises_dynamodbs_own_error(
    faults: Faults,
) -> None:
    # GIVEN DynamoDB refuses TransactWriteItems to the app's role
    faults.inject(Site("dynamodb", "TransactWriteItems"), ACCESS_DENIED)

    # WHEN the store commits a write, THEN the caller gets the original error, and nothing
    # was written
    with pytest.raises(ClientError, match="AccessDeniedException") as caught:
        dynamo.transact([a_model_item()])
    assert caught.value.operation_name == "TransactWriteItems"
    faults.clear()
    assert dynamo.get(KEY) is None


@pytest.mark.usefixtures("aws")
def test_a_malformed_transaction_raises_the_validation_error_and_writes_nothing() -> None:
    # GIVEN a transaction whose update names a value it does not define
    malformed = dynamo.update_op(KEY, "SET #name = :undefined", names={"#name": "name"})

    # WHEN the store commits it with a good put, THEN moto's ValidationException reaches the
    # caller and the good put is not applied either
    with pytest.raises(ClientError, match="ValidationException"):
        dynamo.transact([a_model_item(), malformed])
    assert dynamo.get(KEY) is None
