"""The API Gateway side of the Chalice RestAPI: errors, throttling, logging.

chalice packages the API as an `AWS::Serverless::Api` whose stage and
deployment SAM generates at deploy time. Everything here is therefore set as
SAM properties of that resource, not as separate `AWS::ApiGateway::*`
resources: SAM writes `GatewayResponses` into the API definition, so they are
part of every deployment snapshot (a separate `AWS::ApiGateway::GatewayResponse`
is created after SAM's deployment and stays invisible until the next one).
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from chalicelib import errors

PROBLEM_JSON = "application/problem+json"
# API Gateway's own message, substituted already quoted as a JSON string.
MESSAGE = "$context.error.messageString"
NO_ROUTE = '"no route matches this method and path"'

# response type -> (HTTP status, problem type). API Gateway answers an unknown
# route with MISSING_AUTHENTICATION_TOKEN (403); to a client it is a 404.
GATEWAY_RESPONSES: dict[str, tuple[int, type[errors.CustosError], str]] = {
    "DEFAULT_4XX": (400, errors.ValidationError, MESSAGE),
    "DEFAULT_5XX": (500, errors.CustosError, '"the gateway could not complete the request"'),
    "BAD_REQUEST_BODY": (400, errors.ValidationError, MESSAGE),
    "BAD_REQUEST_PARAMETERS": (400, errors.ValidationError, MESSAGE),
    "UNAUTHORIZED": (401, errors.UnauthenticatedError, MESSAGE),
    "ACCESS_DENIED": (403, errors.ForbiddenError, MESSAGE),
    "MISSING_AUTHENTICATION_TOKEN": (404, errors.NotFoundError, NO_ROUTE),
    "RESOURCE_NOT_FOUND": (404, errors.NotFoundError, NO_ROUTE),
    "REQUEST_TOO_LARGE": (413, errors.PayloadTooLargeError, MESSAGE),
    "UNSUPPORTED_MEDIA_TYPE": (415, errors.UnsupportedMediaTypeError, MESSAGE),
    "THROTTLED": (429, errors.TooManyRequestsError, '"request rate limit exceeded; retry later"'),
    "QUOTA_EXCEEDED": (429, errors.TooManyRequestsError, '"request quota exceeded"'),
    "INTEGRATION_TIMEOUT": (504, errors.CustosError, '"the request took too long"'),
}

ACCESS_LOG_FORMAT = {
    "request_id": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "time": "$context.requestTime",
    "method": "$context.httpMethod",
    "route": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "latency_ms": "$context.responseLatency",
    "integration_latency_ms": "$context.integrationLatency",
    "response_length": "$context.responseLength",
    "error": "$context.error.message",
    "response_type": "$context.error.responseType",
}


def problem_template(status: int, problem: type[errors.CustosError], detail: str) -> str:
    """A gateway-response body template (simple `$context` substitution, not VTL)."""
    # `detail` is a JSON string literal or `$context.error.messageString`,
    # which API Gateway substitutes already quoted.
    return (
        "{"
        f'"type": "{errors.PROBLEM_BASE}{problem.slug}", '
        f'"title": {json.dumps(problem.title)}, '
        f'"status": {status}, '
        f'"detail": {detail}, '
        '"request_id": "$context.requestId"'
        "}"
    )


def gateway_responses() -> dict[str, dict[str, object]]:
    """SAM `GatewayResponses`: every API Gateway-made error as problem+json."""
    return {
        kind: {
            "StatusCode": str(status),
            "ResponseParameters": {"Headers": {"Content-Type": f"'{PROBLEM_JSON}'"}},
            "ResponseTemplates": {"application/json": problem_template(status, problem, detail)},
        }
        for kind, (status, problem, detail) in GATEWAY_RESPONSES.items()
    }


class ApiSettings(Construct):
    """Throttling, access logs and problem+json errors on the packaged RestAPI."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        rest_api: CfnResource,
        throttle: dict[str, int],
        manage_account_role: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        rest_api.add_property_override("GatewayResponses", gateway_responses())
        rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": throttle["rate_limit"],
                    "ThrottlingBurstLimit": throttle["burst_limit"],
                    # Per-method metrics are billed as custom metrics (7 per route);
                    # the stage's basic metrics are free and the app emits its own.
                    "MetricsEnabled": False,
                    # Execution logs for errors only; never a data trace, which
                    # would log Authorization headers and bodies.
                    "LoggingLevel": "ERROR",
                    "DataTraceEnabled": False,
                }
            ],
        )
        rest_api.add_property_override(
            "AccessLogSetting",
            {
                # The log group's ARN without the `:*` that Fn::GetAtt appends.
                "DestinationArn": Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.access_logs.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
                "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            },
        )
        self.account_role: iam.Role | None = None
        if manage_account_role:
            self._account_role(rest_api)

    def _account_role(self, rest_api: CfnResource) -> None:
        # API Gateway writes stage logs only once the account (per region)
        # names a CloudWatch role; a fresh account has none.
        role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        # Kept on stack deletion: the account setting outlives the stack.
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigateway.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
        rest_api.add_resource_dependency(account)
        self.account_role = role
