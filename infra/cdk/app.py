"""The CDK app: `python -m infra.cdk.app` from the repository root synthesizes to ./cdk.out.

With the CDK CLI: `cd infra/cdk && npx cdk deploy` (cdk.json runs this module),
or `npx cdk deploy --app cdk.out` after synthesizing here. See the README, "Deploying to AWS".

Context (`-c key=value`):
  custos:stage                  chalice stage in .chalice/config.json (default dev);
                                the stack is named custos-<stage>
  custos:apiGatewayAccountRole  false if the account already has API Gateway's
                                CloudWatch role (default true: the stack sets it)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.cdk.stack import CustosStack

CDK_JSON = Path(__file__).with_name("cdk.json")


def feature_flags() -> dict[str, object]:
    """The CDK feature flags, kept in cdk.json so the CLI and plain python agree."""
    context: dict[str, object] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_app(
    outdir: str | None = None, *, nag: bool = True, context: dict[str, str] | None = None
) -> tuple[App, CustosStack]:
    """The app and its one stack, not yet synthesized.

    With `nag`, cdk-nag's AwsSolutions pack runs at synthesis and any finding
    not acknowledged in infra/cdk/nag.py fails it.
    """
    app = App(outdir=outdir, context={**feature_flags(), **(context or {})})
    stage = str(app.node.try_get_context("custos:stage") or "dev")
    account_role = str(app.node.try_get_context("custos:apiGatewayAccountRole") or "true")
    stack = CustosStack(
        app,
        f"custos-{stage}",
        stage=stage,
        build_dir=Path(app.outdir) / "custos-build",
        manage_api_gateway_account_role=account_role.lower() != "false",
        description="Custos: multi-tenant ModelOps governance backend",
        # Unset outside the CDK CLI: the template stays environment-agnostic.
        env=_cli_environment(),
    )
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def _cli_environment() -> Environment | None:
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    return Environment(account=account, region=region) if account and region else None


def main() -> None:
    """Synthesize the cloud assembly (into $CDK_OUTDIR when the CDK CLI runs this)."""
    app, _ = build_app(os.environ.get("CDK_OUTDIR") or "cdk.out")
    app.synth()


if __name__ == "__main__":
    main()
