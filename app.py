"""Custos: the Chalice application. Routes live in chalicelib/api blueprints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.api import audit, meta, models, principals, tenants
from chalicelib.api.http import edge_problem

app = Chalice(app_name="custos")
app.api.binary_types = []  # every body is JSON; never base64 a request
for blueprint in (meta.bp, tenants.bp, principals.bp, models.bp, audit.bp):
    app.register_blueprint(blueprint)


@app.middleware("http")
def problem_json_everywhere(
    event: Request, get_response: Callable[[Request], Response]
) -> Response:
    """Answers Chalice gives itself (405, 415, …) become problem+json too."""
    return edge_problem(get_response(event))


@app.lambda_function(name="outbox_relay")
def outbox_relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """DynamoDB stream consumer: relays committed outbox events to the events queue."""
    from chalicelib.services.relay import relay_stream_records

    return relay_stream_records(event.get("Records", []))
