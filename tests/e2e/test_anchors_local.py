"""`make run` anchors each tenant's chain head to its (moto) Object Lock bucket by itself:
the schedule fires, the consumer writes the anchor, the API lists it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.harness.stack import LocalStack, moto_client, start

PLATFORM_KEY = "cusp_e2e-platform-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY, env={"CUSTOS_LOCAL_SCHEDULE_SECONDS": "2"})
    yield running
    running.stop()


def test_make_run_anchors_the_demo_tenants_chain_under_compliance_retention(
    stack: LocalStack,
) -> None:
    auditor = stack.key("auditor")
    anchors: list[dict] = []
    deadline = time.monotonic() + 60
    while not anchors and time.monotonic() < deadline:
        answer = requests.get(
            f"{stack.base_url}/v1/audit/anchors",
            headers={"Authorization": f"Bearer {auditor}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        anchors = answer.json()["items"]
        time.sleep(1)
    assert anchors, "no anchor within a minute"
    anchor = anchors[0]
    stored = moto_client(stack, "s3").head_object(
        Bucket=anchor["bucket"], Key=anchor["key"], VersionId=anchor["version_id"]
    )
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    assert stored["ObjectLockRetainUntilDate"].isoformat()[:10] == anchor["retain_until"][:10]
