"""Reports and exports against `make run`'s stack, as the README's "Reports and exports"
does them: the report over HTTP, an export written by the stack's own dispatcher (the
exporter consumer through the fan-out), its file downloaded from the embedded moto server
by the URL the API signed."""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.harness.stack import LocalStack, start

PLATFORM_KEY = "cusp_e2e-exports-key-0123456789"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY)
    yield running
    running.stop()


def call(stack: LocalStack, role: str, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {stack.key(role)}"}
    answer = requests.request(
        method, stack.base_url + "/v1" + path, json=body, headers=headers, timeout=30
    )
    assert answer.status_code < 300, answer.text
    return answer


def test_an_inventory_export_is_written_by_the_stack_and_downloaded_from_its_url(
    stack: LocalStack,
) -> None:
    # GIVEN a model in the demo tenant, and the report counting it
    body = {"name": "E2E export", "purpose": "exported", "risk_tier": 2}
    made = call(stack, "developer", "POST", "/models", body).json()
    report = call(stack, "auditor", "GET", "/reports/compliance").json()
    assert report["models"]["total"] >= 1
    # WHEN the auditor requests the inventory as CSV
    queued = call(stack, "auditor", "POST", "/exports", {"kind": "inventory", "format": "csv"})
    location = queued.headers["Location"]
    assert queued.status_code == 202 and location.startswith("/v1/exports/")
    deadline, export = time.monotonic() + 30, queued.json()
    while export["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        export = call(stack, "auditor", "GET", location.removeprefix("/v1")).json()
    # THEN the stack's exporter wrote it, and its URL serves the file it describes
    assert export["status"] == "completed", export
    content = requests.get(export["download_url"], timeout=30)
    assert content.status_code == 200, content.text
    assert hashlib.sha256(content.content).hexdigest() == export["sha256"]
    rows = list(csv.DictReader(io.StringIO(content.content.decode())))
    assert len(rows) == export["row_count"] and made["id"] in {r["id"] for r in rows}
