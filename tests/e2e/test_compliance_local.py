"""Under `make run`, over HTTP as a user does it: a scan of the tenant on request, a
validator's finding blocking production until an approver accepts its risk, and a rule
finding the scan raises and then resolves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.harness.over_http import approved_version, call, eventually, read
from tests.harness.stack import LocalStack, start

PLATFORM_KEY = "cusp_e2e-compliance-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Any:
    running = start(PLATFORM_KEY)
    yield running
    running.stop()


def scan(stack: LocalStack) -> dict[str, Any]:
    asked = call(stack, "POST", "/v1/compliance-scans", stack.key("validator"))
    assert asked.status_code == 202, asked.text
    location = asked.headers["Location"]
    return dict(eventually(lambda: (s := read(stack, location))["status"] == "completed" and s))


def test_a_finding_blocks_production_until_accepted_and_a_scan_finds_stale_metrics(
    stack: LocalStack,
) -> None:
    model, version = approved_version(stack, "E2E scanned")
    production = {"environment": "production", "target": "sagemaker:endpoint/e2e-scan"}
    # GIVEN a validator's high finding on the version
    body = {"model_id": model["id"], "version_number": 1, "severity": "high", "title": "E2E"}
    raised = call(stack, "POST", "/v1/findings", stack.key("validator"), body)
    assert raised.status_code == 201, raised.text
    finding = raised.json()
    # THEN production refuses the version, naming it
    refused = call(stack, "POST", f"{version}/deployments", stack.key("monitor"), production)
    assert refused.status_code == 409 and finding["id"] in refused.text
    # WHEN an approver outside the team accepts its risk for a month
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    accept = {"reason": "Reviewed monthly", "expires_at": expires}
    accepted = call(
        stack, "POST", f"/v1/findings/{finding['id']}/accept", stack.key("approver"), accept
    )
    assert accepted.status_code == 200, accepted.text
    # THEN production takes it
    deployed = call(stack, "POST", f"{version}/deployments", stack.key("monitor"), production)
    assert deployed.status_code == 201, deployed.text
    # WHEN a scan runs, the version in production has reported no metrics
    done = scan(stack)
    assert done["counts"]["deployments"] >= 1
    ours = read(stack, f"/v1/findings?model_id={model['id']}&status=open")["items"]
    assert [f["rule"] for f in ours] == ["metrics.stale"]
    # AND once the monitor reports, the next scan resolves it
    point = {"name": "auc", "value": 0.81, "observed_at": datetime.now(UTC).isoformat()}
    reported = call(stack, "POST", f"{version}/metrics", stack.key("monitor"), {"points": [point]})
    assert reported.status_code == 200, reported.text
    scan(stack)
    stale = read(stack, f"/v1/findings/{ours[0]['id']}")
    assert stale["status"] == "resolved"
