"""What artifacts cost: AWS calls per operation, the asynchronous verification of a 100 MB
upload on `make run`, and the verifier's peak memory.

1. **Calls** (in process, moto): each artifact operation and its variants the route
   benchmark (bench/aws_calls.py) does not reach: a multipart registration, `complete` of a
   single upload and of a multipart one above the sync threshold (202), and the verifier
   per message. S3 and DynamoDB calls are counted by botocore's events, in a warm process
   (after one request of the same kind), request path only (the key lookup apart).
2. **100 MB, asynchronously**, on `make run`'s stack (default settings): registered,
   uploaded through its presigned part URLs, completed (202); timed until `GET` shows it
   verified, and the verifier's own run from its log line (so the rate it read at).
3. **Peak memory**: for objects of 10, 100 and 300 MB on that stack, a fresh process imports
   the app, as the verifier's Lambda does, and streams the object version with the
   verifier's own read (`ArtifactObjects.digest`); its peak RSS before and after.

`python -m bench.artifacts` prints this part alone; `python -m bench` runs every part.
"""

from __future__ import annotations

import os

# moto before anything that builds a boto3 client (as in tests/conftest.py).
from moto import mock_aws  # isort: skip

import hashlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from chalice.test import Client

from bench.counting import REQUEST, CallCounter
from bench.part import ROOT
from bench.report import Report, calls_text
from bench.seed import FAKE_CREDENTIALS, PLATFORM_KEY
from tests.harness.clients import Api, HttpApi
from tests.harness.stack import LocalStack, start
from tests.harness.uploads import artifact_body, put, put_parts
from tests.harness.world import Tenant, make_tenant

MB = 1_000_000
MIB = 2**20
COUNTER = CallCounter()
SMALL = b"a small model file, verified in the call\n"
# In process, thresholds small enough to take every path with small objects.
LIMITS = {
    "CUSTOS_ARTIFACT_SYNC_VERIFY_BYTES": "1024",
    "CUSTOS_ARTIFACT_MULTIPART_BYTES": str(6 * MIB),
    "CUSTOS_ARTIFACT_PART_BYTES": str(5 * MIB),
}
MEMORY_SIZES = (10 * MB, 100 * MB, 300 * MB)
CHILD = "from bench.artifacts import child; child()"


# --- 1. calls per operation -----------------------------------------------------------------


class Calls:
    """Counts the request path of one call made in a warm process."""

    def __init__(self, api: Api, tenant: Tenant) -> None:
        self.api, self.tenant = api, tenant
        self.dev = tenant.keys["developer"]
        self.found: dict[str, dict[str, int]] = {}
        model = api.post("/v1/models", self.dev, {"name": "Bench", "purpose": "b", "risk_tier": 2})
        self.model = model.json["id"]
        from app import app
        from infra.dispatch import Dispatcher

        # One dispatcher: its stream reader goes on where it stopped (a new one would read
        # the stream from its start, and hand the verifier every earlier request again).
        self.dispatcher = Dispatcher(app, boto3.session.Session(), dict(os.environ))

    def version(self) -> str:
        answer = self.api.post(f"/v1/models/{self.model}/versions", self.dev, {})
        assert answer.status == 201, answer.json
        return f"/v1/models/{self.model}/versions/{answer.json['number']}"

    def count(self, row: str, call: Callable[[], Any]) -> Any:
        with COUNTER.record() as calls:
            result = call()
        self.found[row] = dict(sorted(calls.by_part[REQUEST].items()))
        return result

    def registered(self, version: str, content: bytes, row: str | None = None) -> Any:
        def register() -> Any:
            return self.api.post(f"{version}/artifacts", self.dev, artifact_body(content))

        answer = self.count(row, register) if row else register()
        assert answer.status == 201, answer.json
        return answer.json

    def complete(self, version: str, row: str | None = None, status: int = 200) -> Any:
        def complete() -> Any:
            return self.api.post(f"{version}/artifacts/model.bin/complete", self.dev)

        answer = self.count(row, complete) if row else complete()
        assert answer.status == status, answer.json
        return answer.json


def _verify_one(counted: Calls, row: str) -> None:
    """Relay the outbox, then hand the verifier its message, counting the verifier alone."""
    from app import app

    dispatcher = counted.dispatcher
    dispatcher.streams[0].pump_once()
    pump = next(p for p in dispatcher.queues if p.function == "verify_artifact")
    answer = pump.sqs.receive_message(QueueUrl=pump.queue_url, MaxNumberOfMessages=1)
    (message,) = answer["Messages"]
    event = {"Records": [pump.record(message)]}
    counted.count(row, lambda: app.handler_map["verify_artifact"](event, None))
    pump.sqs.delete_message(QueueUrl=pump.queue_url, ReceiptHandle=message["ReceiptHandle"])


def _one_pass(counted: Calls, *, rows: bool) -> None:
    """Every operation once; counted (in `counted.found`) when `rows`."""

    def row(text: str) -> str | None:
        return text if rows else None

    api, dev = counted.api, counted.dev
    medium = b"m" * 4096  # above the sync threshold: verified by the consumer
    large = bytes(range(256)) * (11 * MIB // 256)  # multipart: 3 parts
    version = counted.version()
    upload = counted.registered(version, SMALL, row("register, single PUT"))
    put(upload["upload"], SMALL)
    counted.complete(version, row(f"complete, verified in the call ({len(SMALL)} B)"))
    counted.count(
        "get, with its download URL", lambda: api.get(f"{version}/artifacts/model.bin", dev)
    )
    counted.count("list a page", lambda: api.get(f"{version}/artifacts", dev))
    version = counted.version()
    upload = counted.registered(version, medium)
    put(upload["upload"], medium)
    counted.complete(version, row("complete, single upload above the sync threshold"), 202)
    _verify_one(counted, "verifier, one message (4 KiB)")
    version = counted.version()
    upload = counted.registered(version, large, row("register, multipart (3 parts)"))
    put_parts(upload["upload"], large)
    counted.complete(version, row("complete, multipart (3 parts)"), 202)
    _verify_one(counted, "verifier, one message (11 MiB)")


def calls_per_operation() -> dict[str, dict[str, int]]:
    """Every artifact operation's request-path calls, warm (see the module docstring)."""
    saved = dict(os.environ)
    os.environ.update(FAKE_CREDENTIALS | LIMITS)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    COUNTER.install()
    from infra.provision import provision

    try:
        return _counted(provision)
    finally:  # the stack started next runs with the default settings
        os.environ.clear()
        os.environ.update(saved)


def _counted(provision: Any) -> dict[str, dict[str, int]]:
    with mock_aws():
        os.environ.update(provision(boto3.session.Session(), "bench", PLATFORM_KEY))
        from app import app
        from chalicelib import bootstrap

        bootstrap.reset()
        with Client(app) as client:
            api = Api(client)
            counted = Calls(api, make_tenant(api, "Bench", PLATFORM_KEY))
            _one_pass(counted, rows=False)  # warms the caches and the clients
            _one_pass(counted, rows=True)
            return counted.found


# --- 2. 100 MB through the asynchronous path on make run ------------------------------------


def _content(size: int) -> bytes:
    block = os.urandom(MIB)
    return (block * (size // MIB + 1))[:size]


def _uploaded(api: HttpApi, stack: LocalStack, content: bytes, name: str) -> dict[str, Any]:
    """Register a new version's artifact and upload it; returns the times and the path."""
    dev = stack.key("developer")
    model = api.post("/v1/models", dev, {"name": name, "purpose": "bench", "risk_tier": 2})
    version = api.post(f"/v1/models/{model.json['id']}/versions", dev, {})
    path = f"/v1/models/{model.json['id']}/versions/{version.json['number']}/artifacts"
    started = time.perf_counter()
    registered = api.post(path, dev, artifact_body(content, name=name))
    assert registered.status == 201, registered.json
    upload = registered.json["upload"]
    uploaded = time.perf_counter()
    if upload["url"]:
        put(upload, content)
    else:
        put_parts(upload, content)
    return {
        "path": f"{path}/{name}",
        "parts": len(upload["parts"]) or 1,
        "register_s": round(uploaded - started, 3),
        "upload_s": round(time.perf_counter() - uploaded, 3),
    }


def _until_verified(api: HttpApi, key: str, path: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = api.get(path, key).json
        if seen["status"] != "verifying":
            return dict(seen)
        time.sleep(0.05)
    raise TimeoutError(f"{path} still verifying after {timeout} s")


def _verifier_runs(stack: LocalStack) -> list[float]:
    """The verifier's own run times (ms) from the stack's log lines."""
    runs = []
    for line in list(stack.output):
        if '"verify_artifact"' not in line:
            continue
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if fields.get("message") == "invocation" and fields.get("handler") == "verify_artifact":
            runs.append(float(fields["Latency"]))
    return runs


def asynchronous(api: HttpApi, stack: LocalStack, size: int = 100 * MB) -> dict[str, Any]:
    """One `size` artifact through register, multipart upload, 202 and the verifier."""
    dev = stack.key("developer")
    content = _content(size)
    made = _uploaded(api, stack, content, "weights.bin")
    runs_before = len(_verifier_runs(stack))
    started = time.perf_counter()
    done = api.post(f"{made['path']}/complete", dev)
    answered = time.perf_counter()
    assert done.status == 202, done.json
    seen = _until_verified(api, dev, made["path"])
    verified = time.perf_counter()
    assert seen["computed_sha256"] == hashlib.sha256(content).hexdigest(), seen
    time.sleep(0.5)  # the invocation's log line follows its commit
    runs = _verifier_runs(stack)[runs_before:]
    own = runs[-1] if runs else None
    return {
        "bytes": size,
        "parts": made["parts"],
        "register_s": made["register_s"],
        "upload_s": made["upload_s"],
        "complete_answered_ms": round((answered - started) * 1000, 1),
        "verified_after_s": round(verified - started, 3),
        "verifier_run_s": None if own is None else round(own / 1000, 3),
        "verifier_mb_per_s": None if not own else round(size / MB / (own / 1000), 1),
        "status": seen["status"],
    }


# --- 3. the verifier's peak memory ------------------------------------------------------------


def _peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM). Not getrusage's ru_maxrss: Linux keeps
    that across exec, so a child would report its parent's size at the fork."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1])


def child() -> None:
    """In a fresh process: import the app as the verifier's Lambda does, then stream one
    object version with the verifier's read; print peak RSS before and after, as JSON."""
    import app  # noqa: F401
    from chalicelib.store.keys import TenantKeys
    from chalicelib.store.objects import ArtifactObjects

    tenant, key, version_id = sys.argv[1:4]
    before = _peak_rss_kb()
    started = time.perf_counter()
    read = ArtifactObjects(TenantKeys(tenant)).digest(key, version_id)
    took = time.perf_counter() - started
    after = _peak_rss_kb()
    assert read is not None
    print(json.dumps({"rss_before_kb": before, "rss_peak_kb": after, "seconds": took}))


def memory(api: HttpApi, stack: LocalStack) -> list[dict[str, Any]]:
    """Peak RSS of a fresh verifier process streaming each of MEMORY_SIZES."""
    dev = stack.key("developer")
    tenant = api.get("/v1/me", dev).json["tenant_id"]
    found = []
    for size in MEMORY_SIZES:
        name = f"memory-{size // MB}mb.bin"
        made = _uploaded(api, stack, _content(size), name)
        done = api.post(f"{made['path']}/complete", dev)
        assert done.status in (200, 202), done.json
        seen = _until_verified(api, dev, made["path"])
        model_id, number = seen["model_id"], seen["version_number"]
        key = f"tenants/{tenant}/models/{model_id}/versions/{number:06d}/artifacts/{name}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            FAKE_CREDENTIALS,
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{stack.moto_port}",
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            CUSTOS_BUCKET="custos-local-artifacts",
        )
        out = subprocess.run(
            [sys.executable, "-c", CHILD, tenant, key, seen["s3_version_id"]],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        found.append(
            {
                "bytes": size,
                "rss_after_import_mb": round(figures["rss_before_kb"] / 1024, 1),
                "rss_peak_mb": round(figures["rss_peak_kb"] / 1024, 1),
                "read_mb_per_s": round(size / MB / figures["seconds"], 1),
            }
        )
    return found


def run() -> dict[str, Any]:
    """This part of `python -m bench`: results.json's `artifacts`."""
    logging.disable(logging.INFO)
    result: dict[str, Any] = {"calls": calls_per_operation()}
    stack = start(PLATFORM_KEY)
    try:
        api = HttpApi(stack.base_url, timeout=600)
        result["async_100mb"] = asynchronous(api, stack)
        result["verifier_memory"] = memory(api, stack)
    finally:
        stack.stop()
    return result


def report(result: dict[str, Any]) -> Report:
    """A row per artifact operation (its S3 and DynamoDB calls), then the lines."""
    out = Report()
    for row, calls in result["calls"].items():
        s3 = {op: n for op, n in calls.items() if op.startswith("S3.")}
        ddb = {op: n for op, n in calls.items() if op.startswith("DynamoDB.")}
        out.cells[f"artifact: {row}"] = {
            "artifact DynamoDB calls": calls_text(ddb),
            "artifact S3 calls": calls_text({k.removeprefix("S3."): v for k, v in s3.items()}),
        }
    run = result["async_100mb"]
    out.lines.append(
        f"Artifacts, asynchronous path on make run: {run['bytes'] / MB:.0f} MB in "
        f"{run['parts']} parts, uploaded in {run['upload_s']} s; complete answered 202 in "
        f"{run['complete_answered_ms']} ms; verified {run['verified_after_s']} s after "
        f"complete; the verifier's own run {run['verifier_run_s']} s "
        f"({run['verifier_mb_per_s']} MB/s)."
    )
    memory_text = ", ".join(
        f"{m['bytes'] / MB:.0f} MB: {m['rss_peak_mb']} MB peak "
        f"(after import {m['rss_after_import_mb']} MB, {m['read_mb_per_s']} MB/s)"
        for m in result["verifier_memory"]
    )
    out.lines.append(f"Artifact verifier's peak RSS, a fresh process: {memory_text}.")
    return out


def main() -> int:
    from bench.report import table

    found = report(run())
    print(table([found]))
    print()
    print("\n".join(found.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
