"""One tree of domain errors, each knowing its HTTP status and problem type.

Services and stores raise these; `chalicelib.api.http` turns them into
`application/problem+json` (RFC 9457) in one place.
"""

from __future__ import annotations

from typing import Any, NamedTuple

PROBLEM_BASE = "https://custos.dev/problems/"


class FieldError(NamedTuple):
    """One offending field: a dotted path (`body.risk_tier`, `query.limit`) and why."""

    field: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class CustosError(Exception):
    status = 500
    slug = "internal"
    title = "Internal error"
    retry_after: int | None = None  # seconds, sent as Retry-After when set

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []

    def headers(self) -> dict[str, str]:
        """Extra response headers this error answers with."""
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [e.to_json() for e in self.errors]
        return body


class ValidationError(CustosError):
    status = 400
    slug = "validation"
    title = "The request does not match the schema"


class InvalidCursorError(ValidationError):
    slug = "invalid-cursor"
    title = "The cursor is malformed, forged or belongs to another query"


class UnauthenticatedError(CustosError):
    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class ForbiddenError(CustosError):
    status = 403
    slug = "forbidden"
    title = "Not allowed"


class NotFoundError(CustosError):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowedError(CustosError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class ConflictError(CustosError):
    status = 409
    slug = "conflict"
    title = "Conflicts with the current state"


class IdempotencyConflictError(ConflictError):
    slug = "idempotency-key-reused"
    title = "The Idempotency-Key was used with another request"


class PreconditionFailedError(CustosError):
    status = 412
    slug = "precondition-failed"
    title = "The resource changed since it was read"


class PayloadTooLargeError(CustosError):
    status = 413
    slug = "payload-too-large"
    title = "The request body is too large"


class UnsupportedMediaTypeError(CustosError):
    status = 415
    slug = "unsupported-media-type"
    title = "The request body must be JSON"


class DomainRuleError(CustosError):
    status = 422
    slug = "domain-rule"
    title = "The request is well-formed but breaks a domain rule"


class PreconditionRequiredError(CustosError):
    status = 428
    slug = "precondition-required"
    title = "If-Match is required on updates"


class TooManyRequestsError(CustosError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"
    retry_after = 1


class ServiceUnavailableError(CustosError):
    """A dependency (the data store, a secret, a queue) failed or was throttled after the
    SDK's own retries; nothing was changed and the same request may be sent again."""

    status = 503
    slug = "unavailable"
    title = "Temporarily unavailable; retry"
    retry_after = 1


class OutcomeUnknownError(ServiceUnavailableError):
    """A write's answer was lost and the data store could not confirm it either: it may
    have been made, whole (a transaction applies all or nothing). Read the resource, or
    send the same request with the same Idempotency-Key, before making it again."""

    slug = "outcome-unknown"
    title = "The change may or may not have been made"


class TransientConflictError(ServiceUnavailableError):
    """Optimistic concurrency lost too many times in a row; the client may retry."""

    slug = "concurrent-update"
    title = "Too many concurrent updates; retry"
