"""What the Chalice app declares, read from the app object itself.

The stack deploys (and gives a role and an environment to) every function
listed here, and the drift test checks the template against the same list, so
a route, `@app.lambda_function`, `@app.schedule` or `@app.on_*` added to the
app flows through without touching infra/cdk.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
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

    @property
    def logical_id(self) -> str:
        """The function's logical id in the packaged (SAM) template."""
        # chalice renames the API handler's resource when it builds the RestAPI.
        return "APIHandler" if self.function == API_HANDLER else to_cfn_resource_name(self.function)


def load_app() -> Any:
    """The `Chalice` object from the repository's app.py."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("app").app


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


def function_names(app: Any) -> list[str]:
    """The distinct Lambda functions `chalice package` creates for the app."""
    return list(dict.fromkeys(h.function for h in declared_handlers(app)))


def _event_handler(source: Any) -> Handler:
    for config_type, kind in _EVENT_KINDS:
        if isinstance(source, config_type):
            return Handler(source.name, kind, _detail(source))
    # Websocket handlers and anything newer: deployed, but not described further.
    return Handler(source.name, type(source).__name__)


def _detail(source: Any) -> str:
    expression = getattr(source, "schedule_expression", None)
    if expression is not None:
        return expression if isinstance(expression, str) else expression.to_string()
    for attribute in ("queue", "queue_arn", "stream_arn", "stream", "topic", "bucket"):
        value = getattr(source, attribute, None)
        if value:
            return str(value)
    return ""
