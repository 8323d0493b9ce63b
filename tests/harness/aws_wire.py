"""AWS error answers as the services put them on the wire, for fault injection.

Each builder returns what an HTTP response carries, `(status, headers, body)`, in
the service's own protocol, so botocore parses, classifies and retries it exactly
as it would a real one: DynamoDB and SQS speak awsJson1_0 (SQS adds the
`x-amzn-query-error` header botocore takes the code from), Secrets Manager awsJson1_1,
Step Functions (botocore's `sfn`) awsJson1_0, SNS the query protocol (XML errors), S3
rest-xml.
"""

from __future__ import annotations

import json
import uuid
import zlib
from typing import Any

Wire = tuple[int, dict[str, str], bytes]

_JSON_1_0 = "application/x-amz-json-1.0"
_JSON_CONTENT_TYPE = {"dynamodb": _JSON_1_0, "sqs": _JSON_1_0, "sfn": _JSON_1_0}
_TYPE_PREFIX = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "sqs": "com.amazonaws.sqs#",
    # Step Functions grew out of SWF; its error types still carry that namespace.
    "sfn": "com.amazonaws.swf.service.v2.model#",
}
_INTERNAL_CODE = {
    "dynamodb": "InternalServerError",
    "secretsmanager": "InternalServiceError",
    "sqs": "InternalError",
    "sns": "InternalError",
}


def request_id() -> str:
    return uuid.uuid4().hex.upper()


def json_error(
    service: str,
    status: int,
    code: str,
    message: str,
    extra: dict[str, Any] | None = None,
    *,
    type_prefix: str | None = None,
) -> Wire:
    """An awsJson1_0 / awsJson1_1 error answer."""
    prefix = _TYPE_PREFIX.get(service, "") if type_prefix is None else type_prefix
    body = json.dumps({"__type": prefix + code, "message": message, **(extra or {})}).encode()
    headers = {
        "Content-Type": _JSON_CONTENT_TYPE.get(service, "application/x-amz-json-1.1"),
        "x-amzn-RequestId": request_id(),
        "Content-Length": str(len(body)),
    }
    if service == "dynamodb":
        # botocore retries a DynamoDB answer whose CRC32 does not match: get it right.
        headers["x-amz-crc32"] = str(zlib.crc32(body) & 0xFFFFFFFF)
    if service == "sqs":
        # SQS is awsQueryCompatible: botocore reads the error code from this header.
        fault = "Receiver" if status >= 500 else "Sender"
        headers["x-amzn-query-error"] = f"{code};{fault}"
    return status, headers, body


def xml_error(status: int, code: str, message: str) -> Wire:
    """A rest-xml (S3) error answer."""
    rid = request_id()[:16]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{rid}</RequestId><HostId>host</HostId></Error>"
    ).encode()
    headers = {"Content-Type": "application/xml", "x-amz-request-id": rid, "x-amz-id-2": "host"}
    return status, headers, body


def query_error(status: int, code: str, message: str) -> Wire:
    """A query-protocol (SNS) error answer."""
    fault = "Receiver" if status >= 500 else "Sender"
    body = (
        "<ErrorResponse><Error>"
        f"<Type>{fault}</Type><Code>{code}</Code><Message>{message}</Message>"
        f"</Error><RequestId>{request_id()}</RequestId></ErrorResponse>"
    ).encode()
    return status, {"Content-Type": "text/xml", "Content-Length": str(len(body))}, body


def throttling(service: str, body: bytes) -> Wire:
    """The service's own word for "slow down"."""
    if service == "sns":
        return query_error(400, "Throttling", "Rate exceeded")
    if service == "sqs":
        return json_error("sqs", 400, "RequestThrottled", "Request is throttled.")
    if service == "s3":
        return xml_error(503, "SlowDown", "Please reduce your request rate.")
    if service == "dynamodb":
        return json_error(
            "dynamodb",
            400,
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
            type_prefix="com.amazon.coral.availability#",
        )
    return json_error(service, 400, "ThrottlingException", "Rate exceeded")


def throughput_exceeded(service: str, body: bytes) -> Wire:
    """DynamoDB's ProvisionedThroughputExceededException."""
    return json_error(
        "dynamodb",
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    )


def internal_error(service: str, body: bytes) -> Wire:
    """The service failing on its side (a 500)."""
    if service == "s3":
        return xml_error(500, "InternalError", "We encountered an internal error. Try again.")
    if service == "sns":
        return query_error(500, "InternalError", "Internal server error")
    code = _INTERNAL_CODE.get(service, "InternalFailure")
    return json_error(service, 500, code, "Internal server error")


def transaction_conflict(service: str, body: bytes) -> Wire:
    """TransactWriteItems cancelled because another transaction holds its items."""
    try:
        count = len(json.loads(body)["TransactItems"])
    except (ValueError, KeyError, TypeError):
        count = 1
    message = (
        "Transaction cancelled, please refer cancellation reasons for specific reasons ["
        + ", ".join(["TransactionConflict"] * count)
        + "]"
    )
    reasons = [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        for _ in range(count)
    ]
    return json_error(
        "dynamodb",
        400,
        "TransactionCanceledException",
        message,
        {"CancellationReasons": reasons, "Message": message},
    )


def idempotent_parameter_mismatch() -> Wire:
    return json_error(
        "dynamodb",
        400,
        "IdempotentParameterMismatchException",
        "Request parameters do not match the request that used this ClientRequestToken.",
    )


def execution_already_exists(service: str, body: bytes) -> Wire:
    """StartExecution finding an execution of that name that is closed, or that was
    started with another input (a running one with the same input is answered as a
    success)."""
    try:
        name = json.loads(body).get("name", "")
    except (ValueError, AttributeError):
        name = ""
    return json_error("sfn", 400, "ExecutionAlreadyExists", f"Execution Already Exists: '{name}'")
