"""The OpenAPI document describes every route the app serves."""

from __future__ import annotations

import re

from tests.conftest import Api


def test_openapi_31_lists_every_route_with_schemas_and_problem_errors(api: Api) -> None:
    from app import app

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
            if method in ("post", "patch"):
                body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert body.split("/")[-1] in schemas
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
