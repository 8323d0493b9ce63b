"""The local stack's moto server: moto's WSGI app on 127.0.0.1 over HTTP/1.1 keep-alive.

moto serves with werkzeug's development server, which answers every request with
`Connection: close` (it cannot tell where a request's body ends, so it drains the socket
after each answer instead). Every boto3 call then opens a TCP connection and a server
thread of its own. `KeepAliveHandler` is moto's request handler (its environ keeps the
original spelling of underscored headers) answering differently: it reads exactly the
request's body before the app runs, buffers the answer and sends it with its
Content-Length, so the connection is left at the start of the next request and
boto3's connection pools reuse it.

DynamoDB requests (streams included) are applied one at a time, as DynamoDB applies
each operation atomically; left alone, two threads' transactions interleave inside
moto, and a stream read sees the records of a transaction that is about to be
cancelled. Other services stay concurrent: an SQS long poll must not stall the table.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer

log = logging.getLogger("custos.moto")
WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]
_NO_BODY_STATUSES = {204, 304}


def atomic_dynamodb(app: WsgiApp) -> WsgiApp:
    """`app`, applying DynamoDB and DynamoDB Streams requests one at a time."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # X-Amz-Target: DynamoDB_20120810.* and DynamoDBStreams_20120810.*
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serve


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler, keeping HTTP/1.1 connections open between requests."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle's algorithm the body would wait
    # for the client's delayed ACK on a kept-alive connection.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        # werkzeug's own run_wsgi writes `Connection: close`; http.server's parse_request
        # has already answered `Expect: 100-continue`.
        environ = self.environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self._read_body(environ))
        answer: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            answer.update(status=status, headers=headers)
            return chunks.append

        chunks: list[bytes] = []
        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            log.exception("moto failed on %s %s", self.command, self.path)
            answer = {"status": "500 Internal Server Error", "headers": []}
            chunks = [b"moto failed on this request"]
        self._send(answer["status"], answer["headers"], b"".join(chunks))

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        """The whole request body, and nothing of the next request on this connection."""
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's dechunking reader
            return bytes(environ["wsgi.input"].read())
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        framing = {"content-length", "transfer-encoding", "connection"}
        head = self.command == "HEAD"
        for name, value in headers:
            # A HEAD answer keeps the Content-Length of what a GET would send.
            if name.lower() not in framing or (head and name.lower() == "content-length"):
                self.send_header(name, value)
        no_body = head or int(code) in _NO_BODY_STATUSES or int(code) < 200
        if not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not no_body:
            self.wfile.write(body)


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, knowing its open connections so it can close them."""

    def __init__(self, ip_address: str, port: int, app: WsgiApp) -> None:
        self._connections: set[socket.socket] = set()
        self._guard = threading.Lock()
        super().__init__(ip_address, port, app, KeepAliveHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._guard:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._guard:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection: an idle one's thread, waiting for the next request,
        reads the end of the stream and returns."""
        with self._guard:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class MotoServer:
    """moto's app (every service) on `ip_address:port` (0: a free port), in a thread."""

    def __init__(self, ip_address: str, port: int) -> None:
        app = atomic_dynamodb(DomainDispatcherApplication(create_backend_app))
        self._server = _Server(ip_address, port, app)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, then end the connections clients keep open."""
        self._server.shutdown()
        self._server.close_connections()
        self._thread.join()
