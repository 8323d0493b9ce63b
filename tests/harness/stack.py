"""`make run`'s stack as a subprocess on a free 127.0.0.1 port, for tests and benchmarks.

Starts `python -m infra.local` exactly as `make run` does, reads its banner for the
demo tenant's keys, and stops it with SIGINT (what Ctrl-C sends).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from infra.local import free_port

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120


@dataclass
class LocalStack:
    """A running `make run` stack: where it listens and the demo tenant's keys by role."""

    base_url: str
    platform_key: str
    moto_port: int
    banner: str
    keys: dict[str, list[str]]  # role -> keys, in the banner's order
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)  # stdout lines after the banner
    errors: list[str] = field(default_factory=list)  # stderr lines, from the start
    readers: list[threading.Thread] = field(default_factory=list)

    def key(self, role: str, n: int = 0) -> str:
        """The n-th demo key of `role`."""
        return self.keys[role][n]

    def stop(self, timeout: float = 20) -> int:
        """Ctrl-C, then wait; returns the exit code (killed if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for reader in self.readers:
            reader.join(timeout=5)
        return int(self.process.returncode)


def start(
    platform_key: str, *, port: int | None = None, env: dict[str, str] | None = None
) -> LocalStack:
    """Start the stack (on a free port unless given one) and wait for its banner (the
    Ctrl-C line), or fail with its output."""
    port = port or free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    child_env.update(
        CUSTOS_PORT=str(port),
        CUSTOS_PLATFORM_KEY=platform_key,
        PYTHONUNBUFFERED="1",
        **(env or {}),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    errors: list[str] = []
    # Read stderr from the start so a full pipe never blocks the server, and apart from
    # stdout, where the server's JSON log lines go.
    error_reader = threading.Thread(target=_drain, args=(process.stderr, errors), daemon=True)
    error_reader.start()
    lines: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops" in line:
            break
    banner = "".join(lines)
    moto = re.search(r"moto on :(\d+)", banner)
    if "Ctrl-C stops" not in banner or moto is None:
        process.kill()
        error_reader.join(timeout=5)
        raise RuntimeError(f"the local stack did not start:\n{banner}{''.join(errors)}")
    keys: dict[str, list[str]] = {}
    for role, key in re.findall(r"^\s+(\w+)\s+.+ (cus_key_\S+)$", banner, flags=re.M):
        keys.setdefault(role, []).append(key)
    stack = LocalStack(
        base_url=f"http://127.0.0.1:{port}",
        platform_key=platform_key,
        moto_port=int(moto.group(1)),
        banner=banner,
        keys=keys,
        process=process,
        errors=errors,
    )
    # Keep reading its output so a full pipe never blocks the server.
    reader = threading.Thread(target=_drain, args=(process.stdout, stack.output), daemon=True)
    reader.start()
    stack.readers = [reader, error_reader]
    return stack


def _drain(stream: IO[str] | None, into: list[str]) -> None:
    into.extend(stream or [])


def moto_client(stack: LocalStack, service: str) -> Any:
    """A boto3 client for the stack's moto server."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{stack.moto_port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
