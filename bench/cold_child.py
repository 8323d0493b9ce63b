"""The child process of bench/cold_start.py: import an app, serve one GET, print timings.

Started as `python -c "<CHILD_SCRIPT>" custos|bare`, which stamps the clock before
importing anything else. The request goes straight to the app's Lambda entry point
(`app(event, context)`) with an API Gateway proxy event, so no HTTP server is timed.
The request comes from the environment: BENCH_MODEL_ID and BENCH_KEY.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

CHILD_SCRIPT = "import time; t0 = time.perf_counter(); from bench.cold_child import main; main(t0)"
ROUTE = "/v1/models/{model_id}"


class LambdaContext:
    """The few attributes of Lambda's context object an app might read."""

    function_name = "bench"
    memory_limit_in_mb = 512
    aws_request_id = "bench-cold-start"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def proxy_event(model_id: str, key: str) -> dict[str, Any]:
    """An API Gateway (REST, proxy integration) event for GET /v1/models/{model_id}."""
    path = ROUTE.format(model_id=model_id)
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    return {
        "resource": ROUTE,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"model_id": model_id},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": ROUTE,
            "httpMethod": "GET",
            "path": f"/v1api{path}",
            "stage": "v1api",
            "requestId": "bench-cold-start",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def main(started: float) -> None:
    """Import the app named by argv[1], serve the GET, print perf_counter stamps as JSON."""
    if sys.argv[1] == "custos":
        from app import app
    else:
        from bench.bare_app import app
    imported = time.perf_counter()
    response = app(
        proxy_event(os.environ["BENCH_MODEL_ID"], os.environ["BENCH_KEY"]), LambdaContext()
    )
    answered = time.perf_counter()
    stamps = {"started": started, "imported": imported, "answered": answered}
    print(json.dumps({**stamps, "status": response["statusCode"]}))
