"""Every route the app serves, found from the app itself, never from a list kept here.

Declared routes are the Operations of `chalicelib.api.http.REGISTRY` (through
tests/harness/exercise.py, which knows how to build a request for each). A route
registered on Chalice without that declaration (`GET /v1/openapi.json`) still
serves traffic, so it is found in the Chalice app's routing table and stood in for
by an unauthenticated Operation: if it needs more than that, its measurement says
so by answering something other than 200.
"""

from __future__ import annotations

from chalicelib.api.http import Operation
from tests.harness.exercise import operations

UNDECLARED = "undeclared"  # the tag of a stand-in for a route registered without a declaration


def label(op: Operation) -> str:
    """`GET /v1/models/{model_id}`: how a route is named in tables and results.json."""
    return f"{op.method} {op.path}"


def routes() -> list[Operation]:
    """The declared operations, then any route of the Chalice app none of them declares."""
    from app import app

    declared = operations()
    known = {(op.method, op.path) for op in declared}
    undeclared = [
        _stand_in(entry.view_name, method, path)
        for path, methods in app.routes.items()
        for method, entry in methods.items()
        if (method, path) not in known
    ]
    return declared + undeclared


def _stand_in(name: str, method: str, path: str) -> Operation:
    return Operation(
        name=name,
        method=method,
        path=path,
        summary="(not declared with chalicelib.api.http.endpoint)",
        tag=UNDECLARED,
        auth="none",
        roles=None,
        request_shape=None,
        response_shape=None,
        status=200,
        query=(),
        idempotent=False,
        if_match=False,
        errors=(),
    )
