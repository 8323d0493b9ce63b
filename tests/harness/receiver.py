"""A real webhook receiver on 127.0.0.1: records what it is sent and answers as scripted.

`Receiver.answers` is a list of (status, headers, delay seconds) consumed one per request;
once it is spent every request gets `default`. Tests read `received` (each request's
headers and body) with bounded waits.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple


class Answer(NamedTuple):
    status: int = 200
    headers: dict[str, str] = {}
    delay: float = 0.0


class Received(NamedTuple):
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the body was read

    @property
    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


OK = Answer()


class Receiver:
    def __init__(self, answers: list[Answer] | None = None, default: Answer = OK) -> None:
        self.answers = list(answers or [])
        self.default = default
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = receiver._take(Received(self.path, headers, body, time.time()))
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    def _take(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            return self.answers.pop(0) if self.answers else self.default

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.event for r in self.received]

    def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        """The requests received, once there are at least `count` (bounded wait)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests received, expected {count}")


@contextmanager
def receiving(answers: list[Answer] | None = None, default: Answer = OK) -> Iterator[Receiver]:
    """A receiver serving on 127.0.0.1 for the block."""
    receiver = Receiver(answers, default)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)
