"""Custos: the Chalice application. Routes live in chalicelib/api blueprints."""

from __future__ import annotations

from typing import Any

from chalice import Chalice

app = Chalice(app_name="custos")


@app.lambda_function(name="outbox_relay")
def outbox_relay(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """DynamoDB stream consumer: relays committed outbox events to the events queue."""
    from chalicelib.services.relay import relay_stream_records

    return relay_stream_records(event.get("Records", []))
