"""The HTTP edge: one decorator declares a route with everything the API needs to
know about it (auth, roles, request and response models, query parameters,
idempotency, If-Match), parses and authenticates the request, calls the view,
and maps every outcome to JSON or problem+json. The OpenAPI document and the
route-coverage tests read the same declarations.

Request and response models are named, not imported (`"chalicelib.domain.models:Model"`):
importing pydantic and the models costs a cold process more than the rest of the app
together, so a model is imported when a body is validated or the OpenAPI document is
built, and a GET that answers a stored item (`domain.views`) never imports one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
import traceback
from collections.abc import Callable, Mapping
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib import auth, observability
from chalicelib.config import settings
from chalicelib.domain.actors import Actor
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
from chalicelib.store.aws_errors import is_transient, unavailable

if TYPE_CHECKING:
    import pydantic

    from chalicelib.services import idempotency

PROBLEM_JSON = "application/problem+json"
Auth = Literal["none", "platform", "tenant", "any"]


# Records here are NamedTuples or plain classes, not dataclasses: every Lambda function of
# the app imports this module, and @dataclass compiles its generated methods at import
# (about half a millisecond a class; `python -m bench.cold_start`).
class QueryParam(NamedTuple):
    name: str
    kind: type = str
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None  # of a string
    format: str | None = None  # a JSON Schema format the string takes (date-time)


# RFC 9110 section 13.1.1: If-Match = "*" / #entity-tag, where an entity-tag is a quoted
# string, optionally W/-prefixed (section 8.8.3); a list may hold empty elements (5.6.1).
# The OpenAPI document declares this pattern; Python's, ECMA's and Rust's regexes agree on it.
_ETAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
IF_MATCH_PATTERN = rf"^[ \t]*(?:\*|(?:,[ \t]*)*{_ETAG}(?:[ \t]*,(?:[ \t]*{_ETAG})?)*)[ \t]*$"
_IF_MATCH = re.compile(IF_MATCH_PATTERN)

LIMIT = QueryParam("limit", int, "Page size (default 50)", minimum=1, maximum=100)
CURSOR = QueryParam("cursor", str, "The next_cursor of the previous page", min_length=1)


# A request or response model, named lazily: "package.module:Class", or a function of no
# arguments that returns the class.
Shape = str | Callable[[], "type[pydantic.BaseModel]"]


@cache
def resolve(shape: Shape) -> type[pydantic.BaseModel]:
    """The model class a declaration names (imported on first use)."""
    if callable(shape):
        return shape()
    module, _, name = shape.partition(":")
    found: type[pydantic.BaseModel] = getattr(import_module(module), name)
    return found


class Operation(NamedTuple):
    """Everything declared about one route; `request` and `response` resolve its shapes."""

    name: str
    method: str
    path: str
    summary: str
    tag: str
    auth: Auth
    roles: frozenset[Role] | None
    request_shape: Shape | None
    response_shape: Shape | None
    status: int
    query: tuple[QueryParam, ...]
    idempotent: bool
    if_match: bool
    errors: tuple[int, ...]
    also: tuple[int, ...] = ()  # other success statuses (202 when the work goes on later)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def request(self) -> type[pydantic.BaseModel] | None:
        """The request body's model (imports it)."""
        return None if self.request_shape is None else resolve(self.request_shape)

    @property
    def response(self) -> type[pydantic.BaseModel] | None:
        """The success answer's model (imports it)."""
        return None if self.response_shape is None else resolve(self.response_shape)


REGISTRY: list[Operation] = []


class Reply:
    """What a view answers: its body (a model, a JSON-ready dict such as `domain.views`
    renders, or None for no content), status and extra headers."""

    def __init__(
        self,
        body: pydantic.BaseModel | dict[str, Any] | None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.body = body
        self.status = status
        self.headers = headers if headers is not None else {}


class ApiRequest:
    """A parsed, authenticated request as a view sees it."""

    def __init__(
        self,
        op: Operation,
        actor: Actor,
        body: Any,
        query: dict[str, Any],
        headers: Mapping[str, str],
    ) -> None:
        self.op = op
        self.actor = actor
        self.body = body
        self.query = query
        self.headers = headers
        # Set by the edge when the request carries an Idempotency-Key: (record key, hash).
        self.idempotency_record: tuple[dict[str, str], str] | None = None

    def claim_for(self, to_reply: Callable[[Any], Reply]) -> idempotency.Claim | None:
        """The claim a service commits with, rendering its result as `to_reply` would."""
        if self.idempotency_record is None:
            return None
        from chalicelib.services import idempotency

        def rendered(result: Any) -> idempotency.Rendered:
            reply = to_reply(result)
            return reply.status, _body_text(reply), reply.headers

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
        # _respond checked the syntax: every tag is quoted, and quotes hold no quote.
        if etag(current) not in re.findall(_ETAG, value):
            raise PreconditionFailedError("If-Match does not name the current ETag")
        return current


def etag(revision: int) -> str:
    return f'"{revision}"'


def field(body: Any, name: str) -> Any:
    """A field of a view's answer, a model or a rendered dict (`domain.views`)."""
    return body[name] if isinstance(body, dict) else getattr(body, name)


def endpoint(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    auth: Auth = "tenant",
    roles: set[Role] | None = None,
    request: Shape | None = None,
    response: Shape | None = None,
    status: int = 200,
    query: tuple[QueryParam, ...] = (),
    idempotent: bool = False,
    if_match: bool = False,
    errors: tuple[int, ...] = (),
    also: tuple[int, ...] = (),
) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """Declare a route; see the module docstring. `request` and `response` name models
    ("chalicelib.domain.models:ModelCreate"); nothing is imported until it is needed."""

    def register(view: Callable[..., Reply]) -> Callable[..., Reply]:
        op = Operation(
            name=view.__name__,
            method=method,
            path=path,
            summary=summary,
            tag=tag,
            auth=auth,
            roles=frozenset(roles) if roles else None,
            request_shape=request,
            response_shape=response,
            status=status,
            query=query,
            idempotent=idempotent,
            if_match=if_match,
            errors=errors,
            also=also,
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
    """Run one request through auth, parsing, the view and error mapping; log its line."""
    started = time.perf_counter()
    request_id = str((request.context or {}).get("requestId") or new_id("request"))
    actor: Actor | None = None
    failure: dict[str, str] = {}
    try:
        actor = _authorize(op, request, request_id)
        response = _respond(op, view, request, params, actor)
    except CustosError as exc:
        response = problem(exc, request_id)
    except Exception as exc:
        failure["error"] = type(exc).__name__
        if is_transient(exc):  # raised by a client outside the store's own translation
            response = problem(unavailable(exc), request_id)
        else:
            failure["traceback_text"] = traceback.format_exc()
            response = _internal_error(request_id)
    response.headers["X-Request-Id"] = request_id
    observability.log_request(
        request_id=request_id,
        route=f"{op.method} {op.path}",
        status=response.status_code,
        started=started,
        tenant=actor.tenant_id if actor else None,
        actor=actor.label if actor else None,
        **failure,
    )
    return response


def _respond(
    op: Operation,
    view: Callable[..., Reply],
    request: Request,
    params: dict[str, str],
    actor: Actor,
) -> Response:
    api_request = ApiRequest(
        op=op,
        actor=actor,
        body=_parse_body(op, request),
        query=_parse_query(op, request.query_params or {}),
        headers=request.headers,
    )
    if op.if_match:
        _check_if_match(request.headers.get("if-match"))
    if not (op.idempotent and "idempotency-key" in request.headers):
        return render(view(api_request, **params))
    # Idempotency records are imported only by the requests that carry a key.
    from chalicelib.services.idempotency import IdempotencyRaceError

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
    return render(reply)


def _body_text(reply: Reply) -> str:
    if reply.body is None:
        return ""
    if isinstance(reply.body, dict):
        # Compact and unescaped, as pydantic's model_dump_json writes it.
        return json.dumps(reply.body, ensure_ascii=False, separators=(",", ":"))
    return reply.body.model_dump_json()


def render(reply: Reply) -> Response:
    body = _body_text(reply)
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


def _internal_error(request_id: str) -> Response:
    """Answer only the request id; the request's log line holds the traceback."""
    body = {
        "type": "https://custos.dev/problems/internal",
        "title": "Internal error",
        "status": 500,
        "detail": "an unexpected error occurred; quote the request id to support",
        "request_id": request_id,
    }
    return Response(body=json.dumps(body), status_code=500, headers={"Content-Type": PROBLEM_JSON})


def _authorize(op: Operation, request: Request, request_id: str) -> Actor:
    if op.auth == "none":
        return Actor.anonymous(request_id)
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
    if op.request_shape is None:
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
    import pydantic

    model = resolve(op.request_shape)
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        errors, detail = field_errors(exc, "body"), "the body does not match the schema"
        # A field the model no longer takes says where it went (`moved_fields`).
        moved: Mapping[str, str] = getattr(op.request, "moved_fields", {})
        for n, error in enumerate(errors):
            name = error.field.removeprefix("body.")
            if error.message == "unknown field" and name in moved:
                errors[n] = FieldError(error.field, moved[name])
                detail = f"{name} is {moved[name]}"
        raise ValidationError(detail, errors=errors) from exc


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
        elif spec.min_length is not None and len(value) < spec.min_length:
            too_short = f"must be at least {spec.min_length} characters"
            message = "must not be empty" if spec.min_length == 1 else too_short
            errors.append(FieldError(f"query.{name}", message))
            continue
        else:
            parsed[name] = value
        if spec.choices and value not in spec.choices:
            errors.append(FieldError(f"query.{name}", f"must be one of {', '.join(spec.choices)}"))
    if errors:
        raise ValidationError("the query parameters are not valid", errors=errors)
    return parsed


def _check_if_match(value: str | None) -> None:
    """400 for an If-Match that is not "*" or a list of entity-tags (`3` for `"3"`):
    RFC 9110 gives such a value no tags to compare, so no precondition evaluated to false
    (412); it is malformed request syntax (400). A missing one is left to the view (428)."""
    if value is None or not value.strip() or _IF_MATCH.fullmatch(value):
        return
    raise ValidationError(
        'If-Match must hold quoted ETags, like "3" (or *)',
        errors=[FieldError("header.if-match", 'must be * or quoted ETags, like "3"')],
    )


def _start_idempotent(api_request: ApiRequest, request: Request) -> Response | None:
    """Replay a stored answer, or attach a claim so the view's commit records one."""
    from chalicelib.services import idempotency

    key_text = request.headers["idempotency-key"]
    # A blank key is refused, not ignored: ignoring it would let every retry create again.
    if not 1 <= len(key_text) <= 255 or not key_text.strip():
        raise ValidationError(
            "Idempotency-Key must be 1-255 characters, not only whitespace",
            errors=[
                FieldError(
                    "header.idempotency-key", "must be 1-255 characters, not only whitespace"
                )
            ],
        )
    digest = hashlib.sha256()
    # request.path is the route template; the path parameters make it the real path.
    params = json.dumps(request.uri_params or {}, sort_keys=True)
    digest.update(f"{request.method} {request.path} {params}\n".encode())
    raw = request.raw_body or b""
    digest.update(raw if isinstance(raw, bytes) else raw.encode())
    record_key = idempotency.record_key(api_request.actor, key_text)
    stored = idempotency.stored(record_key, digest.hexdigest())
    if stored is not None:
        headers: dict[str, str | list[str]] = {
            "Content-Type": "application/json",
            "Idempotent-Replayed": "true",
        }
        return Response(
            body=stored.body,
            status_code=stored.status,
            headers={**headers, **stored.headers},
        )

    api_request.idempotency_record = (record_key, digest.hexdigest())
    return None


_EDGE_ERRORS = {
    405: MethodNotAllowedError("this route does not take that method"),
    415: UnsupportedMediaTypeError("send the body as application/json"),
    413: PayloadTooLargeError("the request body is too large"),
}


def edge_problem(request: Request, response: Response, started: float) -> Response:
    """Turn an error Chalice answered itself into problem+json (views already answer so),
    with a request id and the request's log line, which `handle` writes for the others."""
    content_type = str(response.headers.get("Content-Type", ""))
    if response.status_code < 400 or content_type == PROBLEM_JSON:
        return response
    error = _EDGE_ERRORS.get(response.status_code)
    if error is None:
        error = ValidationError("the request could not be processed")
        error.status = response.status_code
    context = request.context or {}
    request_id = str(context.get("requestId") or new_id("request"))
    answer = problem(error, request_id)
    for name in ("Allow",):
        if name in response.headers:
            answer.headers[name] = response.headers[name]
    answer.headers["X-Request-Id"] = request_id
    observability.log_request(
        request_id=request_id,
        route=f"{request.method} {context.get('resourcePath') or request.path}",
        status=answer.status_code,
        started=started,
    )
    return answer
