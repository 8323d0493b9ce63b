"""Writers in separate processes against one shared moto server, for races that the
threads of one process cannot run (they take turns at a tenant's chain head).

`moto_server()` runs `infra.local`'s moto server (DynamoDB requests applied one at a
time, as DynamoDB applies each operation atomically) in a child process, so moto's
patches stay out of the test process. `start_writers` starts `python -m
tests.harness.processes writer` children and `race` runs them: each drives the app in
process (chalice's test client) against that server, warms up, says it is ready, waits for
`go` and registers models, then prints every answer it got as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROTOCOL = "@proto "  # marks the lines meant for the parent; the app logs to stdout too
ROOT = Path(__file__).resolve().parents[2]
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


class ChildError(AssertionError):
    """A child process did not answer in time, or answered something unexpected."""


@dataclass
class Child:
    """A `python -m tests.harness.processes <role>` process, read line by line with timeouts."""

    role: str
    env: dict[str, str]
    process: subprocess.Popen[str] = field(init=False)
    lines: queue.Queue[str | None] = field(init=False, default_factory=queue.Queue)
    errors: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.processes", self.role],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_errors, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout or []:
            self.lines.put(line)
        self.lines.put(None)

    def _drain_errors(self) -> None:
        self.errors.extend(self.process.stderr or [])

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def receive(self, timeout: float) -> Any:
        """The next protocol line the child prints, parsed as JSON (the app's own log lines,
        which share its stdout, are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ChildError(f"{self.role} said nothing in {timeout} s") from None
            if line is None:
                self.process.wait(timeout=5)
                raise ChildError(
                    f"{self.role} exited ({self.process.returncode}):\n{self.stderr()}"
                )
            if line.startswith(PROTOCOL):
                return json.loads(line[len(PROTOCOL) :])

    def stderr(self) -> str:
        return "".join(self.errors[-40:])

    def stop(self) -> None:
        """Close its stdin (a child stops there), then kill it if it lingers."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=5)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without its AWS settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@contextmanager
def moto_server(timeout: float = 60) -> Iterator[str]:
    """`infra.local`'s moto server in a child process; yields its endpoint URL."""
    server = Child("moto", child_env({}))
    try:
        port = server.receive(timeout)["port"]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def start_writers(env: dict[str, str], writers: int) -> list[Child]:
    """`writers` writer processes; they import the app while the caller sets up, then wait
    for their job (see `race`)."""
    return [Child("writer", child_env(env)) for _ in range(writers)]


def race(children: list[Child], key: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """Have every writer register `count` models with `key`: wait until all are warm, start
    them together, and collect their answers; `timeout` bounds the whole race."""
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(0.1, deadline - time.monotonic())

    for index, child in enumerate(children):
        child.send(json.dumps({"key": key, "count": count, "index": index}))
    for child in children:
        ready = child.receive(left())
        if ready.get("ready") != 200:
            raise ChildError(f"a writer could not warm up: {ready}\n{child.stderr()}")
    for child in children:
        child.send("go")
    answers: list[dict[str, Any]] = []
    for child in children:
        answers.extend(child.receive(left())["answers"])
    return answers


def say(message: dict[str, Any]) -> None:
    """One protocol line to the parent."""
    print(PROTOCOL + json.dumps(message), flush=True)


def _serve_moto() -> None:
    from infra.local import start_moto

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server, port = start_moto()
    say({"port": port})
    sys.stdin.read()  # until the parent closes stdin, or dies
    server.stop()


def _write() -> None:
    from chalice.test import Client

    from app import app
    from tests.harness.clients import Api

    job = json.loads(sys.stdin.readline())
    with Client(app) as client:
        api = Api(client)
        # Clients built and the key cached: the race is between writes, not imports.
        warm = api.get("/v1/models?limit=1", job["key"])
        say({"ready": warm.status})
        if sys.stdin.readline().strip() != "go":
            return
        answers = []
        for i in range(job["count"]):
            body = {"name": f"writer {job['index']} model {i}", "purpose": "race", "risk_tier": 3}
            answer = api.post("/v1/models", job["key"], body)
            answers.append(
                {
                    "status": answer.status,
                    "id": (answer.json or {}).get("id") if answer.status == 201 else None,
                    "retry_after": answer.headers.get("retry-after"),
                }
            )
        say({"answers": answers})


if __name__ == "__main__":
    {"moto": _serve_moto, "writer": _write}[sys.argv[1]]()
