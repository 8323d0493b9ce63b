"""Under `make run`, over HTTP as a user does it: a version approved by the stack's own state
machine goes to production, the inventory shows its model in production, the deployment
ends, and the version is retired."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.over_http import approved_version, call, read
from tests.harness.stack import LocalStack, start

PLATFORM_KEY = "cusp_e2e-deploy-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY)
    yield running
    running.stop()


def test_an_approved_version_runs_in_production_then_is_retired(stack: LocalStack) -> None:
    developer = stack.key("developer")
    # GIVEN a version approved through every stage its policy gives it
    model, version = approved_version(stack, "E2E deploy")
    assert read(stack, f"/v1/models/{model['id']}")["status"] == "approved"
    # WHEN the monitor records it in production
    production = {"environment": "production", "target": "sagemaker:endpoint/e2e"}
    deployed = call(stack, "POST", f"{version}/deployments", stack.key("monitor"), production)
    # THEN the inventory of production models lists its model
    assert deployed.status_code == 201, deployed.text
    listed = read(stack, "/v1/models?status=in_production")
    assert model["id"] in [m["id"] for m in listed["items"]]
    # WHEN the deployment ends and the team retires the version, THEN the model is retired
    location = deployed.headers["Location"]
    assert call(stack, "DELETE", location, stack.key("monitor")).status_code == 204
    retired = call(stack, "POST", f"{version}/retire", developer)
    assert retired.status_code == 200, retired.text
    assert read(stack, f"/v1/models/{model['id']}")["status"] == "retired"
    assert read(stack, location)["until"]
    assert read(stack, "/v1/audit/verify?full=true")["valid"]
