"""The HTTP edge: one decorator declares a route with everything the API needs to
know about it (auth, roles, request and response models, query parameters,
idempotency, If-Match), parses and authenticates the request, calls the view,
and maps every outcome to JSON or problem+json. The OpenAPI document and the
route-coverage tests read the same declarations.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic
from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib import auth
from chalicelib.config import settings
from chalicelib.domain.context import Caller
from chalicelib.domain.ids import new_id
from chalicelib.domain.roles import Role
from chalicelib.errors import (
    CustosError,
    FieldError,
    ForbiddenError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    PreconditionFailedError,
    PreconditionRequiredError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from chalicelib.store import idempotency
from chalicelib.store.aws_errors import is_transient, unavailable
from chalicelib.store.writer import IdempotencyRaceError

log = logging.getLogger("custos")
log.setLevel(logging.INFO)
PROBLEM_JSON = "application/problem+json"
Auth = Literal["none", "platform", "tenant", "any"]


@dataclass(frozen=True)
class QueryParam:
    name: str
    kind: type = str
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


LIMIT = QueryParam("limit", int, "Page size (default 50)", minimum=1, maximum=100)
CURSOR = QueryParam("cursor", str, "The next_cursor of the previous page")


@dataclass(frozen=True)
class Operation:
    """Everything declared about one route."""

    name: str
    method: str
    path: str
    summary: str
    tag: str
    auth: Auth
    roles: frozenset[Role] | None
    request: type[pydantic.BaseModel] | None
    response: type[pydantic.BaseModel] | None
    status: int
    query: tuple[QueryParam, ...]
    idempotent: bool
    if_match: bool
    errors: tuple[int, ...]

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


REGISTRY: list[Operation] = []


@dataclass
class Reply:
    body: pydantic.BaseModel | None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiRequest:
    """A parsed, authenticated request as a view sees it."""

    op: Operation
    caller: Caller
    body: Any
    query: dict[str, Any]
    headers: Mapping[str, str]
    idempotency_record: tuple[dict[str, str], str] | None = None

    def claim_for(self, to_reply: Callable[[Any], Reply]) -> idempotency.Claim | None:
        """The claim a service commits with, rendering its result as `to_reply` would."""
        if self.idempotency_record is None:
            return None

        def rendered(result: Any) -> idempotency.Rendered:
            reply = to_reply(result)
            assert reply.body is not None
            return reply.status, reply.body.model_dump(mode="json"), reply.headers

        key, request_hash = self.idempotency_record
        return idempotency.Claim(key, request_hash, rendered)

    @property
    def limit(self) -> int:
        return int(self.query.get("limit", 50))

    @property
    def cursor(self) -> str | None:
        return self.query.get("cursor")

    def expected_revision(self, current: int) -> int:
        """The revision to update, given the `current` one: If-Match must name it (or be `*`).

        428 when If-Match is missing, 412 when none of its ETags is current. Only strong
        ETags match (RFC 9110 strong comparison).
        """
        value = (self.headers.get("if-match") or "").strip()
        if not value:
            raise PreconditionRequiredError("send the resource's ETag in If-Match")
        if value == "*":
            return current
        tags = [t.strip() for t in value.split(",")]
        if etag(current) not in tags:
            raise PreconditionFailedError("If-Match does not name the current ETag")
        return current


def etag(revision: int) -> str:
    return f'"{revision}"'


def endpoint(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    auth: Auth = "tenant",
    roles: set[Role] | None = None,
    request: type[pydantic.BaseModel] | None = None,
    response: type[pydantic.BaseModel] | None = None,
    status: int = 200,
    query: tuple[QueryParam, ...] = (),
    idempotent: bool = False,
    if_match: bool = False,
    errors: tuple[int, ...] = (),
) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """Declare a route; see the module docstring."""

    def register(view: Callable[..., Reply]) -> Callable[..., Reply]:
        op = Operation(
            name=view.__name__,
            method=method,
            path=path,
            summary=summary,
            tag=tag,
            auth=auth,
            roles=frozenset(roles) if roles else None,
            request=request,
            response=response,
            status=status,
            query=query,
            idempotent=idempotent,
            if_match=if_match,
            errors=errors,
        )
        REGISTRY.append(op)

        @functools.wraps(view)
        def chalice_view(**params: str) -> Response:
            return handle(op, view, bp.current_request, params)

        bp.route(path, methods=[method], content_types=["*/*"])(chalice_view)
        return view

    return register


def handle(
    op: Operation, view: Callable[..., Reply], request: Request, params: dict[str, str]
) -> Response:
    """Run one request through auth, parsing, the view and error mapping."""
    started = time.perf_counter()
    request_id = str((request.context or {}).get("requestId") or new_id("request"))
    caller: Caller | None = None
    try:
        caller = _authorize(op, request, request_id)
        api_request = ApiRequest(
            op=op,
            caller=caller,
            body=_parse_body(op, request),
            query=_parse_query(op, request.query_params or {}),
            headers=request.headers,
        )
        if op.idempotent and request.headers.get("idempotency-key"):
            replay = _start_idempotent(api_request, request)
            if replay is not None:
                return replay
        try:
            reply = view(api_request, **params)
        except IdempotencyRaceError:
            replay = _start_idempotent(api_request, request)
            if replay is None:
                raise
            return replay
        response = render(reply)
    except CustosError as exc:
        response = problem(exc, request_id)
    except Exception as exc:
        if is_transient(exc):  # raised by a client outside the store's own translation
            _log_transient(op, request_id, exc)
            response = problem(unavailable(exc), request_id)
        else:
            response = _internal_error(op, request_id)
    response.headers["X-Request-Id"] = request_id
    _log_request(op, caller, request_id, response.status_code, started)
    return response


def _log_transient(op: Operation, request_id: str, exc: BaseException) -> None:
    log.warning(
        json.dumps(
            {
                "message": "dependency unavailable",
                "request_id": request_id,
                "route": f"{op.method} {op.path}",
                "error": type(exc).__name__,
            }
        )
    )


def render(reply: Reply) -> Response:
    body = "" if reply.body is None else reply.body.model_dump_json()
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **reply.headers}
    if reply.body is None:
        headers.pop("Content-Type")
    return Response(body=body, status_code=reply.status, headers=headers)


def problem(exc: CustosError, request_id: str) -> Response:
    body = exc.problem()
    body["request_id"] = request_id
    return Response(
        body=json.dumps(body),
        status_code=exc.status,
        headers={"Content-Type": PROBLEM_JSON, **exc.headers()},
    )


def _internal_error(op: Operation, request_id: str) -> Response:
    """Log the traceback with the request id; answer only the id."""
    log.error(
        json.dumps(
            {
                "message": "unhandled error",
                "request_id": request_id,
                "route": f"{op.method} {op.path}",
                "traceback": traceback.format_exc(),
            }
        )
    )
    body = {
        "type": "https://custos.dev/problems/internal",
        "title": "Internal error",
        "status": 500,
        "detail": "an unexpected error occurred; quote the request id to support",
        "request_id": request_id,
    }
    return Response(body=json.dumps(body), status_code=500, headers={"Content-Type": PROBLEM_JSON})


def _authorize(op: Operation, request: Request, request_id: str) -> Caller:
    if op.auth == "none":
        return Caller(request_id=request_id, tenant_id=None, principal_id="anonymous", key_id="")
    caller = auth.authenticate(request.headers.get("authorization"), request_id)
    if op.auth == "platform" and not caller.platform:
        raise ForbiddenError("only the platform operator may do this")
    if op.auth == "tenant" and caller.platform:
        raise ForbiddenError("the platform operator manages tenants, not what is inside them")
    if op.roles is not None and not caller.platform and not caller.has_any(*op.roles):
        needed = ", ".join(sorted(op.roles))
        raise ForbiddenError(f"this needs one of the roles: {needed}")
    return caller


def _parse_body(op: Operation, request: Request) -> Any:
    raw = request.raw_body or b""
    if op.request is None:
        return None
    if len(raw) > settings().max_body_bytes:
        limit = settings().max_body_bytes
        raise PayloadTooLargeError(
            f"the body is {len(raw)} bytes; the limit is {limit}",
            errors=[FieldError("body", f"larger than {limit} bytes")],
        )
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "application/merge-patch+json"):
        raise UnsupportedMediaTypeError(
            "send the body as application/json",
            errors=[FieldError("header.content-type", f"got {content_type or 'nothing'}")],
        )
    try:
        return op.request.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            "the body does not match the schema", errors=field_errors(exc, "body")
        ) from exc


def field_errors(exc: pydantic.ValidationError, where: str) -> list[FieldError]:
    """pydantic's errors as (dotted field, message) pairs, unknown fields included."""
    found = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in (where, *error["loc"]))
        message = error["msg"]
        if error["type"] == "json_invalid":
            message = "the body is not valid JSON"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        found.append(FieldError(location, message))
    return found


def _parse_query(op: Operation, params: Mapping[str, str]) -> dict[str, Any]:
    known = {p.name: p for p in op.query}
    errors = [
        FieldError(f"query.{name}", "unknown parameter") for name in params if name not in known
    ]
    parsed: dict[str, Any] = {}
    for name, value in params.items():
        spec = known.get(name)
        if spec is None:
            continue
        getlist = getattr(params, "getlist", None)
        if getlist is not None and len(getlist(name)) > 1:
            errors.append(FieldError(f"query.{name}", "given more than once"))
            continue
        if spec.kind is int:
            if not re.fullmatch(r"-?\d{1,15}", value):
                errors.append(FieldError(f"query.{name}", "must be an integer"))
                continue
            number = int(value)
            low = spec.minimum if spec.minimum is not None else -(10**15)
            high = spec.maximum if spec.maximum is not None else 10**15
            if not low <= number <= high:
                errors.append(FieldError(f"query.{name}", f"must be between {low} and {high}"))
                continue
            parsed[name] = number
        else:
            parsed[name] = value
        if spec.choices and value not in spec.choices:
            errors.append(FieldError(f"query.{name}", f"must be one of {', '.join(spec.choices)}"))
    if errors:
        raise ValidationError("the query parameters are not valid", errors=errors)
    return parsed


def _start_idempotent(api_request: ApiRequest, request: Request) -> Response | None:
    """Replay a stored answer, or attach a claim so the view's commit records one."""
    key_text = request.headers["idempotency-key"]
    if not 1 <= len(key_text) <= 255:
        raise ValidationError(
            "Idempotency-Key must be 1-255 characters",
            errors=[FieldError("header.idempotency-key", "must be 1-255 characters")],
        )
    caller = api_request.caller
    digest = hashlib.sha256()
    # request.path is the route template; the path parameters make it the real path.
    params = json.dumps(request.uri_params or {}, sort_keys=True)
    digest.update(f"{request.method} {request.path} {params}\n".encode())
    raw = request.raw_body or b""
    digest.update(raw if isinstance(raw, bytes) else raw.encode())
    record_key = idempotency.record_key(caller.tenant_id, caller.principal_id, key_text)
    stored = idempotency.lookup(record_key, digest.hexdigest())
    if stored is not None:
        headers: dict[str, str | list[str]] = {
            "Content-Type": "application/json",
            "Idempotent-Replayed": "true",
        }
        return Response(
            body=json.dumps(stored.body),
            status_code=stored.status,
            headers={**headers, **stored.headers},
        )

    api_request.idempotency_record = (record_key, digest.hexdigest())
    return None


def _log_request(
    op: Operation, caller: Caller | None, request_id: str, status: int, started: float
) -> None:
    """One structured line per request, which is also a CloudWatch embedded-metric record
    (Requests and Latency by route and status class); never a header, key or body."""
    log.info(json.dumps(request_record(op, caller, request_id, status, started)))


def request_record(
    op: Operation, caller: Caller | None, request_id: str, status: int, started: float
) -> dict[str, Any]:
    return {
        "message": "request",
        "request_id": request_id,
        "tenant": caller.tenant_id if caller else None,
        "principal": caller.principal_id if caller else None,
        "route": f"{op.method} {op.path}",
        "status": status,
        "status_class": f"{status // 100}xx",
        "Requests": 1,
        "Latency": round((time.perf_counter() - started) * 1000, 1),
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "Custos",
                    "Dimensions": [["route", "status_class"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                    ],
                }
            ],
        },
    }


_EDGE_ERRORS = {
    405: MethodNotAllowedError("this route does not take that method"),
    415: UnsupportedMediaTypeError("send the body as application/json"),
    413: PayloadTooLargeError("the request body is too large"),
}


def edge_problem(response: Response) -> Response:
    """Turn an error Chalice answered itself into problem+json (views already answer so)."""
    content_type = str(response.headers.get("Content-Type", ""))
    if response.status_code < 400 or content_type == PROBLEM_JSON:
        return response
    error = _EDGE_ERRORS.get(response.status_code)
    if error is None:
        error = ValidationError("the request could not be processed")
        error.status = response.status_code
    answer = problem(error, str(response.headers.get("X-Request-Id", new_id("request"))))
    for name in ("Allow",):
        if name in response.headers:
            answer.headers[name] = response.headers[name]
    return answer
