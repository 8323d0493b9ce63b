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


@pytest.mark.parametrize(
    "failure",
    [
        error("ValidationException", "One or more parameter values were invalid"),
        error("AccessDeniedException", "not authorized to perform dynamodb:GetItem"),
        error("ResourceNotFoundException", "Requested resource not found"),
    ],
    ids=lambda failure: failure.response["Error"]["Code"],
)
def test_other_errors_are_left_for_the_caller_to_re_raise(failure: ClientError) -> None:
    # WHEN an error of ours (not the data store's trouble, not too large) goes through the
    # store's pattern: translate, else re-raise
    with pytest.raises(ClientError, match=failure.response["Error"]["Code"]) as caught:
        try:
            raise failure
        except ClientError as exc:
            _raise_translated(exc)
            raise

    # THEN nothing was raised in its place: the caller gets the original error
    # (tests/functional/test_store_errors.py: through dynamo.get and dynamo.transact)
    assert caught.value is failure
