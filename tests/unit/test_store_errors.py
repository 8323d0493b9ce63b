"""AWS errors are translated at the store's edge into errors a client can act on."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from chalicelib.errors import PayloadTooLargeError, ServiceUnavailableError
from chalicelib.store.dynamo import _raise_translated


def error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "TransactWriteItems")


def test_throttling_becomes_503_with_retry_after() -> None:
    with pytest.raises(ServiceUnavailableError, match="busy") as caught:
        _raise_translated(error("ProvisionedThroughputExceededException"))
    assert caught.value.status == 503
    assert caught.value.headers() == {"Retry-After": "1"}


def test_a_dynamodb_side_failure_becomes_503() -> None:
    failure = ClientError(
        {"Error": {"Code": "InternalServerError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "GetItem",
    )
    with pytest.raises(ServiceUnavailableError, match="unavailable"):
        _raise_translated(failure)


def test_an_oversized_item_becomes_413() -> None:
    with pytest.raises(PayloadTooLargeError, match="400 KB"):
        _raise_translated(error("ValidationException", "Item size has exceeded the maximum"))


def test_other_errors_are_left_to_propagate() -> None:
    _raise_translated(error("ValidationException", "One or more parameter values were invalid"))
    _raise_translated(error("AccessDeniedException"))
