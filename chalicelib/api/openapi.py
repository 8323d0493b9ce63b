"""OpenAPI 3.1, generated from the route declarations and the pydantic models."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pydantic
from pydantic.json_schema import models_json_schema

from chalicelib.api.http import IF_MATCH_PATTERN, REGISTRY, Operation
from chalicelib.api.meta import VERSION
from chalicelib.domain.events import CATALOG
from chalicelib.domain.names import WHITESPACE

REF = "#/components/schemas/{model}"
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted: the work goes on asynchronously; read the resource for its outcome",
    204: "No content",
    400: "The request does not match the schema",
    401: "Missing or invalid API key",
    403: "Not allowed",
    404: "Not found (also another tenant's)",
    409: "Conflicts with the current state",
    412: "If-Match is stale",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Breaks a domain rule",
    428: "If-Match is missing",
    429: "Too many requests",
    500: "Internal error (request id only)",
    503: (
        "A backing service is busy or unavailable; nothing changed (unless the type is "
        "outcome-unknown: a write the data store did not confirm), retry after Retry-After"
    ),
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again",
        "schema": {"type": "string"},
    }
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
}


def _errors(op: Operation) -> list[int]:
    codes = {429, 500, *op.errors}
    if op.auth != "none":
        codes |= {401, 403, 503}  # the key lookup alone reads the data store
    # a body, a query, or a header the edge checks (a blank Idempotency-Key, an If-Match
    # that is not a list of quoted ETags) may be malformed
    if op.request or op.query or op.idempotent or op.if_match:
        codes.add(400)
    if op.request:
        codes |= {413, 415}
    if op.path_params:
        codes.add(404)
    if op.method != "GET":
        codes.add(409)  # the idempotency key or the object's state
    if op.if_match:
        codes |= {412, 428}
    return sorted(codes)


def id_pointer(created: type[pydantic.BaseModel], param: str) -> str | None:
    """Where, in the answer of a POST that creates something, the value of the `{param}`
    that names it sits: a field of that name, `<thing>.id` for `{<thing>_id}`, or `id`."""
    fields = created.model_fields
    if param in fields:
        return f"/{param}"
    owner = param.removesuffix("_id")
    if owner in fields:
        return f"/{owner}/id"
    return "/id" if "id" in fields else None


def _links(op: Operation) -> dict[str, Any]:
    """OpenAPI links from a creating POST to every operation on what it created (the
    paths below `<collection>/{param}`), for clients and stateful fuzzers to follow."""
    if op.method != "POST" or op.status != 201 or op.response is None:
        return {}
    links: dict[str, Any] = {}
    for target in REGISTRY:
        below = re.match(re.escape(op.path) + r"/{(\w+)}", target.path)
        where = id_pointer(op.response, below.group(1)) if below else None
        if below is None or where is None:
            continue
        parameters = {p: f"$request.path.{p}" for p in op.path_params}
        parameters[below.group(1)] = f"$response.body#{where}"
        if target.if_match and target.path == below.group(0) and "ETag" in _headers(op):
            parameters["header.If-Match"] = "$response.header.ETag"
        links[target.name] = {"operationId": target.name, "parameters": parameters}
    return links


def _headers(op: Operation) -> dict[str, Any]:
    """The headers a success answer carries: Location on creation, the ETag of a single
    versioned object."""
    headers: dict[str, Any] = {}
    if op.status == 201:
        headers["Location"] = {
            "description": "The created resource",
            "required": True,
            "schema": {"type": "string"},
        }
    if op.response is not None and "revision" in op.response.model_fields:
        headers["ETag"] = {
            "description": "Send in If-Match to update",
            "required": True,
            "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
        }
    return headers


def _operation(op: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in op.path_params
    ]
    for q in op.query:
        schema: dict[str, Any] = {"type": "integer" if q.kind is int else "string"}
        if q.choices:
            schema["enum"] = list(q.choices)
        if q.minimum is not None:
            schema["minimum"] = q.minimum
        if q.maximum is not None:
            schema["maximum"] = q.maximum
        if q.min_length is not None:
            schema["minLength"] = q.min_length
        if q.format is not None:
            schema["format"] = q.format
        params.append(
            {
                "name": q.name,
                "in": "query",
                "required": False,
                "description": q.description,
                "schema": schema,
            }
        )
    if op.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                # At least one character that is not whitespace (str.isspace), spelled out.
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": f"[^{WHITESPACE}]",
                },
                "description": "A replay returns the first answer; a blank key is a 400",
            }
        )
    if op.if_match:
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
                "description": 'The ETag last read, quoted as sent: "3"',
            }
        )
    ok: dict[str, Any] = {"description": STATUS_TEXT.get(op.status, "OK")}
    if op.response is not None and op.status != 204:
        ok["content"] = {"application/json": {"schema": refs[(op.response, "serialization")]}}
    if headers := _headers(op):
        ok["headers"] = headers
    if links := _links(op):
        ok["links"] = links
    responses: dict[str, Any] = {str(op.status): ok}
    for code in op.also:
        responses[str(code)] = {**ok, "description": STATUS_TEXT.get(code, "OK")}
    for code in _errors(op):
        responses[str(code)] = {
            "description": STATUS_TEXT[code],
            "content": {
                "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
            },
        }
        if code in (429, 503):
            responses[str(code)]["headers"] = RETRY_AFTER
    spec: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses,
    }
    if op.request is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {
                mime: {"schema": refs[(op.request, "validation")]}
                for mime in ("application/json", "application/merge-patch+json")
                if mime == "application/json" or op.method == "PATCH"
            },
        }
    spec["security"] = [] if op.auth == "none" else [{"bearer": []}]
    if op.roles:
        spec["x-custos-roles"] = sorted(op.roles)
    return spec


EVENT_ACTOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Who made the change: a principal (with its key), the platform, or a part"
    " of the system (scheduler, workflow, scan, webhook-delivery, relay, verifier)",
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "enum": ["principal", "platform", "system"]},
        "principal_id": {"type": ["string", "null"]},
        "key_id": {"type": ["string", "null"]},
        "key_issued_by": {
            "type": ["string", "null"],
            "description": "For principals: who issued the key (the principal itself, another"
            " principal's id, `platform`, or null for a key older than the record)",
        },
        "system": {"type": "string"},
    },
}


SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The event's id, the same on every attempt: de-duplicate on it",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "Seconds since the epoch when this attempt was signed",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": (
            "Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>` signatures, one"
            " per secret in force (two during a rotation's overlap): the Standard Webhooks"
            " scheme, which its reference libraries verify"
        ),
        "schema": {"type": "string"},
    },
]


def webhooks(refs: dict[Any, Any]) -> dict[str, Any]:
    """One entry per deliverable event type of the catalog: the envelope a receiver gets,
    its `data` the event's declared payload, and the Standard Webhooks headers it is
    signed with."""
    found: dict[str, Any] = {}
    for name, kind in sorted(CATALOG.items()):
        if kind.internal:
            continue
        payload = refs[(kind.payload, "serialization")]
        envelope: dict[str, Any] = {
            "type": "object",
            "required": ["id", "type", "tenant_id", "created_at", "data"],
            "properties": {
                "id": {"type": "string", "description": "The event's id (evt_…): de-duplicate"},
                "type": {"const": name},
                "tenant_id": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "data": payload,
            },
        }
        examples = kind.payload.model_json_schema(mode="serialization").get("examples")
        if examples:
            envelope["examples"] = [
                {
                    "id": "evt_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
                    "type": name,
                    "tenant_id": "ten_01JDQ4W9V3N8Y6Z5X2K7M1P0RT",
                    "created_at": "2026-12-01T09:00:00.000Z",
                    "data": examples[0],
                }
            ]
        found[name] = {
            "post": {
                "operationId": f"event_{name.replace('.', '_')}",
                "summary": kind.description,
                "tags": ["Events"],
                "parameters": SIGNATURE_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": envelope}},
                },
                "responses": {"2XX": {"description": "The receiver accepted the event"}},
            }
        }
    return found


@cache
def document() -> str:
    """The whole document as JSON text (built once per process)."""
    pairs: set[tuple[Any, Any]] = {(op.request, "validation") for op in REGISTRY if op.request}
    pairs |= {(op.response, "serialization") for op in REGISTRY if op.response}
    pairs |= {(kind.payload, "serialization") for kind in CATALOG.values()}
    refs, schemas = models_json_schema(
        sorted(pairs, key=lambda p: (p[0].__name__, p[1])), ref_template=REF
    )
    components = dict(schemas.get("$defs", {}))
    components["Problem"] = PROBLEM_SCHEMA
    components["EventActor"] = EVENT_ACTOR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for op in REGISTRY:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, dict(refs))
    paths["/v1/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["Meta"],
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "Custos API",
                "version": VERSION,
                "description": "Multi-tenant ModelOps governance: inventory, validation, "
                "approval, audit.",
            },
            "servers": [{"url": "/"}],
            "paths": paths,
            "webhooks": webhooks(dict(refs)),
            "components": {
                "schemas": components,
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "cus_<key id>_<secret>",
                    }
                },
            },
        }
    )
