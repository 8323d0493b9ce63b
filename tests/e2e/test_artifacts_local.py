"""Artifacts against `make run`'s stack, as the README's walkthrough does them: the upload
URL points at the embedded moto server, `curl -T` sends the bytes, Custos verifies them;
a multipart upload is verified by the stack's own dispatcher (the asynchronous path)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.harness.stack import LocalStack, start
from tests.harness.uploads import artifact_body, put_parts

PLATFORM_KEY = "cusp_e2e-artifacts-key-0123456789"
MIB = 2**20
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(
        PLATFORM_KEY,
        env={
            "CUSTOS_ARTIFACT_SYNC_VERIFY_BYTES": str(MIB),
            "CUSTOS_ARTIFACT_MULTIPART_BYTES": str(6 * MIB),
            "CUSTOS_ARTIFACT_PART_BYTES": str(5 * MIB),
        },
    )
    yield running
    running.stop()


def call(stack: LocalStack, method: str, path: str, body: Any = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {stack.key('developer')}"}
    return requests.request(
        method, stack.base_url + "/v1" + path, json=body, headers=headers, timeout=30
    )


def new_version(stack: LocalStack) -> str:
    model = call(stack, "POST", "/models", {"name": "E2E", "purpose": "bytes", "risk_tier": 2})
    assert model.status_code == 201, model.text
    version = call(stack, "POST", f"/models/{model.json()['id']}/versions", {})
    assert version.status_code == 201, version.text
    return f"/models/{model.json()['id']}/versions/1"


def curl(*args: str) -> bytes:
    binary = shutil.which("curl")
    assert binary, "the walkthrough uses curl"
    done = subprocess.run([binary, "-sS", "--fail", *args], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_curl_uploads_through_the_url_custos_signed_and_downloads_the_verified_bytes(
    stack: LocalStack, tmp_path: Path
) -> None:
    version = new_version(stack)
    content = b"a model file uploaded with curl -T\n" * 100
    registered = call(stack, "POST", f"{version}/artifacts", artifact_body(content))
    assert registered.status_code == 201, registered.text
    upload = registered.json()["upload"]
    # The URL is the embedded moto server's, as the client's endpoint is under make run.
    assert urlsplit(upload["url"]).netloc == f"127.0.0.1:{stack.moto_port}"
    file = tmp_path / "model.bin"
    file.write_bytes(content)
    headers = [
        arg for name, value in upload["headers"].items() for arg in ("-H", f"{name}: {value}")
    ]
    curl("-T", str(file), *headers, upload["url"])
    done = call(stack, "POST", f"{version}/artifacts/model.bin/complete")
    assert done.status_code == 200, done.text
    assert done.json()["computed_sha256"] == hashlib.sha256(content).hexdigest()
    seen = call(stack, "GET", f"{version}/artifacts/model.bin").json()
    assert curl(seen["download"]["url"]) == content


def test_a_multipart_upload_is_verified_by_the_stacks_own_verifier(stack: LocalStack) -> None:
    version = new_version(stack)
    content = bytes(range(256)) * (12 * MIB // 256)
    registered = call(stack, "POST", f"{version}/artifacts", artifact_body(content, name="w.bin"))
    assert registered.status_code == 201, registered.text
    put_parts(registered.json()["upload"], content)
    done = call(stack, "POST", f"{version}/artifacts/w.bin/complete")
    assert done.status_code == 202, done.text
    deadline = time.monotonic() + 60
    seen = done.json()
    while seen["status"] == "verifying" and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = call(stack, "GET", f"{version}/artifacts/w.bin").json()
    assert seen["status"] == "verified", seen
    assert seen["computed_size"] == len(content)
