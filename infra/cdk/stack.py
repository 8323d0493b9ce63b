"""CustosStack: everything `infra/resources.py` declares plus the Chalice app."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, CfnResource, Stack
from chalice.cdk import Chalice
from constructs import Construct

from infra.cdk import build
from infra.cdk.api import ApiSettings
from infra.cdk.data import DataPlane
from infra.cdk.functions import FunctionWiring
from infra.cdk.handlers import API_HANDLER, declared_handlers, function_logical_id, load_app
from infra.cdk.nag import acknowledge_findings
from infra.resources import RESOURCES, Resources

# chalice needs a region to package (service principals); the value only
# selects the partition's DNS suffix, the deployed region comes from CDK.
PACKAGING_REGION = "us-east-1"


class CustosStack(Stack):
    """The Custos backend: data plane, one role per function, the Chalice app."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        build_dir: Path,
        resources: Resources = RESOURCES,
        stage: str = "dev",
        manage_api_gateway_account_role: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.handlers = declared_handlers(load_app())
        functions = list(dict.fromkeys(h.function for h in self.handlers))
        self.data = DataPlane(self, "Data", resources)
        self.wiring = FunctionWiring(self, "Functions", self.data, functions)

        roles = {name: role.role_arn for name, role in self.wiring.roles.items()}
        # A queue consumer runs as long as it declares (the verifier reads gigabytes); the
        # others keep the stage's timeout.
        timeouts = {c.function: c.timeout_seconds for c in resources.queue_consumers}
        functions_config = {
            name: {"iam_role_arn": arn}
            | ({"lambda_timeout": timeouts[name]} if name in timeouts else {})
            for name, arn in roles.items()
        }
        overrides = {
            "manage_iam_role": False,
            # chalice validates a stage-level role; every function overrides it.
            "iam_role_arn": roles.get(API_HANDLER) or next(iter(roles.values())),
            "environment_variables": self.data.environment,
            "lambda_functions": functions_config,
        }
        # chalice.cdk names the chalice stage after the construct's scope: this stack.
        config = build.chalice_config(stage, self.to_string(), overrides)
        build_dir = build_dir.resolve()  # packaging changes the working directory
        source = build.stage_project(build_dir / "chalice-src", config)
        with _packaging(build_dir):
            self.chalice = Chalice(self, "Api", source_dir=str(source))

        self.functions = {
            name: self.chalice.get_resource(function_logical_id(name)) for name in functions
        }
        self.wiring.attach(self.functions)
        self.rest_api: CfnResource | None = None
        self.api_settings: ApiSettings | None = None
        if API_HANDLER in functions:
            self.rest_api = self.chalice.get_resource("RestAPI")
            self.api_settings = ApiSettings(
                self,
                "ApiSettings",
                self.rest_api,
                resources.api_throttle,
                manage_api_gateway_account_role,
            )
        self._outputs()
        acknowledge_findings(self)

    def _outputs(self) -> None:
        if self.rest_api is not None:
            url = self.chalice.sam_template.get_output("EndpointURL").value
            CfnOutput(self, "ApiUrl", value=url, description="Base URL of the API")
        data = self.data
        for name, table in data.tables.items():
            CfnOutput(self, f"{name}TableName", value=table.table_name)
        for name, bucket in data.buckets.items():
            CfnOutput(self, f"{name}BucketName", value=bucket.bucket_name)
        for name, queue in data.queues.items():
            CfnOutput(self, f"{name}QueueUrl", value=queue.queue_url)
        for name, topic in data.topics.items():
            CfnOutput(self, f"{name}TopicArn", value=topic.topic_arn)
        for name, machine in data.state_machines.items():
            CfnOutput(self, f"{name}StateMachineArn", value=machine.state_machine_arn)
        for name, secret in data.secrets.items():
            CfnOutput(self, f"{name}SecretArn", value=secret.secret_arn)


@contextlib.contextmanager
def _packaging(build_dir: Path) -> Iterator[None]:
    """Run `chalice package` with its scratch output under `build_dir`.

    chalice.cdk writes `chalice.out/` into the working directory and puts the
    project on sys.path; neither may leak into the repository or the process.
    """
    saved_path = list(sys.path)
    saved_region = os.environ.get("AWS_DEFAULT_REGION")
    os.environ.setdefault("AWS_DEFAULT_REGION", PACKAGING_REGION)
    try:
        with contextlib.chdir(build_dir):
            yield
    finally:
        sys.path[:] = saved_path
        if saved_region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
