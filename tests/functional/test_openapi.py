"""The OpenAPI document describes every route the app serves."""

from __future__ import annotations

import re

from tests.conftest import Api


def test_openapi_31_lists_every_route_with_schemas_and_problem_errors(api: Api) -> None:
    from app import app
    from chalicelib.api.http import REGISTRY

    with_body = {(op.path, op.method.lower()) for op in REGISTRY if op.request is not None}

    answer = api.get("/v1/openapi.json")
    assert answer.status == 200
    doc = answer.json
    assert doc["openapi"] == "3.1.0"
    served = {(path, method.lower()) for path, methods in app.routes.items() for method in methods}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented
    schemas = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path == "/v1/openapi.json":
                continue
            ok = op["responses"][next(iter(op["responses"]))]
            if "content" in ok:
                ref = ok["content"]["application/json"]["schema"]["$ref"]
                assert ref.split("/")[-1] in schemas
            if (path, method) in with_body:
                body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert body.split("/")[-1] in schemas
            else:  # a route that takes no body (an action: complete an upload) says so
                assert "requestBody" not in op, (path, method)
            errors = [c for c in op["responses"] if re.fullmatch(r"[45]\d\d", c)]
            assert "500" in errors
            for code in errors:
                media = op["responses"][code]["content"]
                assert list(media) == ["application/problem+json"]
    model_create = schemas["ModelCreate"]
    assert model_create["additionalProperties"] is False
    assert {"name", "purpose", "risk_tier"} <= set(model_create["required"])


def test_health_needs_no_key(api: Api) -> None:
    answer = api.get("/v1/health")
    assert answer.status == 200 and answer.json["status"] == "ok"


def test_the_document_declares_that_a_cursor_is_never_empty(api: Api) -> None:
    doc = api.get("/v1/openapi.json").json
    cursors = [
        param["schema"]
        for ops in doc["paths"].values()
        for op in ops.values()
        for param in op.get("parameters", [])
        if param["name"] == "cursor"
    ]
    assert len(cursors) >= 4
    assert all(schema == {"type": "string", "minLength": 1} for schema in cursors)


def test_every_deliverable_event_type_is_a_webhook_with_its_payload_schema(api: Api) -> None:
    from chalicelib.domain.events import CATALOG, deliverable

    document = api.get("/v1/openapi.json").json
    hooks = document["webhooks"]
    assert set(hooks) == {kind.name for kind in deliverable()}
    internal = {name for name, kind in CATALOG.items() if kind.internal}
    assert internal == {
        "webhook.redelivery_requested",
        "compliance_scan.requested",
        "export.requested",
    } and not internal & set(hooks)
    signed = hooks["model.created"]["post"]["parameters"]
    assert [p["name"] for p in signed] == ["webhook-id", "webhook-timestamp", "webhook-signature"]
    model = hooks["model.created"]["post"]["requestBody"]["content"]["application/json"]
    schema = model["schema"]
    assert schema["properties"]["type"] == {"const": "model.created"}
    assert schema["properties"]["data"] == {"$ref": "#/components/schemas/Model"}
    assert "Model" in document["components"]["schemas"]
    requested = hooks["approval.requested"]["post"]["requestBody"]["content"]
    data = requested["application/json"]["schema"]["properties"]["data"]["$ref"]
    assert data.rsplit("/", 1)[1] in document["components"]["schemas"]
    # AND a stage waiting for decisions shows, in its example, whom to tell
    [example] = requested["application/json"]["schema"]["examples"]
    assert example["data"]["deciders"][0]["email"]
