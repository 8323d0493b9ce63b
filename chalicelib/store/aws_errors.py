"""Which AWS failures are transient: throttling, a service's own 5xx, a lost connection.

botocore has already retried these (standard mode) by the time they reach us, so
they mean "the dependency is struggling now": the client should send the same
request again later, which is safe because nothing was changed. They become 503
with Retry-After. Everything else stays an error of ours (500).
"""

from __future__ import annotations

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from chalicelib.errors import ServiceUnavailableError

THROTTLED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "SlowDown",
        "TransactionInProgressException",
    }
)
FAILED = frozenset(
    {"InternalServerError", "InternalFailure", "InternalServiceError", "ServiceUnavailable"}
)


def is_transient(exc: BaseException) -> bool:
    """True for throttling, an AWS-side 5xx or a connection that failed or timed out."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.get("Code") in THROTTLED | FAILED or int(status) >= 500
    return isinstance(exc, ConnectionError | HTTPClientError)


def busy() -> ServiceUnavailableError:
    """The 503 for a data store that is throttling us."""
    return ServiceUnavailableError("the data store is busy; retry shortly")


def unavailable(exc: BaseException) -> ServiceUnavailableError:
    """The 503 a transient failure answers; says which kind without naming internals."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        if code in THROTTLED:
            return busy()
    return ServiceUnavailableError("a backing service is unavailable; retry shortly")
