"""What the Chalice app declares, read from the app object itself.

The stack deploys (and gives a role and an environment to) every function
listed here, and the drift test checks the template against the same list, so
a route, `@app.lambda_function`, `@app.schedule` or `@app.on_*` added to the
app flows through without touching infra/cdk.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice import app as chalice_app
from chalice.utils import to_cfn_resource_name

from infra.cdk.build import REPO_ROOT

API_HANDLER = "api_handler"

_EVENT_KINDS: tuple[tuple[type, str], ...] = (
    (chalice_app.ScheduledEventConfig, "schedule"),
    (chalice_app.CloudWatchEventConfig, "event_rule"),
    (chalice_app.SQSEventConfig, "sqs"),
    (chalice_app.DynamoDBEventConfig, "dynamodb"),
    (chalice_app.KinesisEventConfig, "kinesis"),
    (chalice_app.SNSEventConfig, "sns"),
    (chalice_app.S3EventConfig, "s3"),
)


@dataclass(frozen=True)
class Handler:
    """One thing the app declares that needs a deployed Lambda function."""

    function: str
    kind: str
    detail: str = ""


def function_logical_id(function: str) -> str:
    """The logical id chalice gives `function` in the packaged template."""
    # chalice renames the API handler's resource when it builds the RestAPI.
    return "APIHandler" if function == API_HANDLER else to_cfn_resource_name(function)


def load_app() -> Any:
    """The `Chalice` object from the repository's app.py, imported as module `app`.

    Loaded by path: run from infra/cdk (the CDK CLI does), `import app` would
    find infra/cdk/app.py first. chalice later imports `app` and reuses it.
    """
    path = REPO_ROOT / "app.py"
    loaded = sys.modules.get("app")
    if loaded is None or Path(getattr(loaded, "__file__", "")).resolve() != path:
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))  # for chalicelib
        spec = importlib.util.spec_from_file_location("app", path)
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules["app"] = loaded
        spec.loader.exec_module(loaded)
    return loaded.app


def declared_handlers(app: Any) -> list[Handler]:
    """Every handler the app declares, in declaration order."""
    handlers = [
        Handler(API_HANDLER, "route", f"{method} {path}")
        for path, methods in sorted(app.routes.items())
        for method in sorted(methods)
    ]
    handlers += [
        Handler(auth.name, "authorizer", auth.handler_string) for auth in app.builtin_auth_handlers
    ]
    handlers += [
        Handler(fn.name, "lambda_function", fn.handler_string) for fn in app.pure_lambda_functions
    ]
    handlers += [_event_handler(source) for source in app.event_sources]
    return handlers


def _event_handler(source: Any) -> Handler:
    name: str = source.name
    for config_type, kind in _EVENT_KINDS:
        if isinstance(source, config_type):
            return Handler(name, kind, _detail(source))
    # Websocket handlers and anything newer: deployed, but not described further.
    return Handler(name, type(source).__name__)


def _detail(source: Any) -> str:
    expression = getattr(source, "schedule_expression", None)
    if expression is not None:
        return expression if isinstance(expression, str) else expression.to_string()
    for attribute in ("queue", "queue_arn", "stream_arn", "stream", "topic", "bucket"):
        value = getattr(source, attribute, None)
        if value:
            return str(value)
    return ""
