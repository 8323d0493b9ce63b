"""The network edge for webhook sends: resolve, check, and POST over a pinned connection.

A receiver's host name is resolved at send time and every address it resolves to is checked
with the SSRF rules (`domain/destinations.py`); the connection is then made to the checked
address itself, with the URL's host in the Host header and, for https, as the TLS server name
the certificate is verified against. So the answer a name gives when it is checked is the
answer it is connected to: a DNS rebinding between the two gains nothing.

One POST, never a redirect (a 3xx is just the answer), under one deadline for the whole
exchange: each connect, handshake, send and read waits at most what remains of it, so a
receiver that drips its answer a byte at a time cannot hold the sender for longer. Only a
short excerpt of the body is read, for the delivery log. Network failures are returned as a
short reason in `Response.error`, never raised.

Standard library only (`http.client`, `socket`, `ssl`), imported by delivery code alone, so
the API's cold path does not load it.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from chalicelib.domain.destinations import Destination, DestinationError, refusal

Resolver = Callable[[str, int], list[str]]

EXCERPT_BYTES = 4096
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
USER_AGENT = "Custos-Webhooks/1"
_DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
_OWN_HEADERS = ("host", "connection", "content-length")


class Response(NamedTuple):
    """What a receiver answered, or why it could not be reached."""

    status: int | None  # the HTTP status, None when no answer arrived
    retry_after_seconds: float | None  # from Retry-After, capped at 24 hours
    latency_ms: float  # from starting to connect until the answer's headers, or the failure
    error: str | None  # a short reason ("timeout", "connection refused", "tls: ..."), or None
    excerpt: str  # the start of the body (at most 4 KiB, decoded with replacement)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for a host, in its order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_resolver: Resolver = system_resolver


def set_resolver(resolver: Resolver) -> None:
    """Resolve host names with `resolver` from now on (tests map names without DNS)."""
    global _resolver
    _resolver = resolver


def reset_resolver() -> None:
    """Resolve host names with the system's resolver again."""
    set_resolver(system_resolver)


@contextlib.contextmanager
def resolving_with(resolver: Resolver) -> Iterator[None]:
    """Resolve host names with `resolver` inside the block, then as before."""
    before = _resolver
    set_resolver(resolver)
    try:
        yield
    finally:
        set_resolver(before)


def resolve_checked(destination: Destination, *, allow_loopback: bool) -> str:
    """The address to connect to for a destination, once every address it has is allowed.

    A name with one public and one private address is refused: which one a later lookup
    would give is not ours to choose. Raises DestinationError with the reason.
    """
    if destination.literal is not None:
        addresses = [destination.literal]
    else:
        try:
            addresses = _resolver(destination.host, destination.port)
        except (OSError, UnicodeError):
            raise DestinationError("the host does not resolve") from None
        if not addresses:
            raise DestinationError("the host does not resolve")
    for address in addresses:
        reason = refusal(address, allow_loopback=allow_loopback)
        if reason is not None:
            verb = "is" if destination.literal is not None else "resolves to"
            raise DestinationError(f"the host {verb} {reason}")
    return addresses[0].split("%", 1)[0]


def post(
    destination: Destination,
    address: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
) -> Response:
    """POST `body` to the destination over a connection to `address` (already checked).

    `timeout` bounds the whole exchange. Redirects are not followed. Never raises for a
    network failure: the reason is in `Response.error`.
    """
    started = time.monotonic()
    connection = _PinnedConnection(destination, address, started + timeout)
    try:
        connection.connect()
        connection.request("POST", destination.target, body, _headers(destination, headers))
        answer = connection.getresponse()
        latency_ms = (time.monotonic() - started) * 1000
        retry_after = retry_after_seconds(answer.getheader("Retry-After"), now=time.time())
        return Response(answer.status, retry_after, latency_ms, None, _excerpt(answer))
    except Exception as exc:  # every network failure, by design: the reason is the answer
        return Response(None, None, (time.monotonic() - started) * 1000, _reason(exc), "")
    finally:
        connection.close()


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """Seconds a Retry-After header asks to wait (delta-seconds or HTTP-date), or None.

    Capped at 24 hours; a date in the past is 0; anything unreadable is ignored.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": the zone is unknown; HTTP-dates are GMT
        return None
    return min(max(when.timestamp() - now, 0.0), MAX_RETRY_AFTER_SECONDS)


def _headers(destination: Destination, given: dict[str, str]) -> dict[str, str]:
    # Host, Connection and Content-Length are ours: the pinned host, one request per
    # connection, the body's length (http.client adds it).
    headers = {k: v for k, v in given.items() if k.lower() not in _OWN_HEADERS}
    present = {name.lower() for name in headers}
    for name, value in _DEFAULT_HEADERS.items():
        if name.lower() not in present:
            headers[name] = value
    headers["Host"] = destination.authority
    headers["Connection"] = "close"
    return headers


def _excerpt(answer: http.client.HTTPResponse) -> str:
    """The start of the body, read within the deadline; a body cut short is not an error."""
    chunks: list[bytes] = []
    size = 0
    with contextlib.suppress(Exception):
        while size < EXCERPT_BYTES:
            chunk = answer.read1(EXCERPT_BYTES - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _reason(exc: BaseException) -> str:
    """A short reason for a failure, for the delivery log (no traceback, no body)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls: {exc.verify_message or 'certificate verify failed'}".lower().rstrip(".")
    if isinstance(exc, ssl.SSLError):
        return f"tls: {exc.reason or type(exc).__name__}".lower()
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection reset"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the connection closed before an answer"
    if isinstance(exc, http.client.HTTPException):
        return f"not an HTTP answer ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"network: {(exc.strerror or type(exc).__name__).lower()}"
    return f"failed: {type(exc).__name__}"


def _remaining(deadline: float) -> float:
    """What remains of the deadline, as a socket timeout; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed")
    return left


class _DeadlineSocket(socket.socket):
    """A socket whose every read waits at most what remains of the exchange's deadline."""

    deadline = math.inf

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The same for TLS: http.client reads the answer through recv_into."""

    deadline = math.inf

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)


_tls: ssl.SSLContext | None = None
_tls_lock = threading.Lock()


def set_tls_context(context: ssl.SSLContext | None) -> None:
    """Verify receivers' certificates with `context` (tests trust a test CA); None: default."""
    global _tls
    with _tls_lock:
        if context is not None:
            context.sslsocket_class = _DeadlineSSLSocket
        _tls = context


def _tls_context() -> ssl.SSLContext:
    """The default context (system CAs, host name checked), built once per process."""
    global _tls
    with _tls_lock:
        if _tls is None:
            context = ssl.create_default_context()
            context.sslsocket_class = _DeadlineSSLSocket
            _tls = context
        return _tls


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the URL's host whose socket goes to one checked address."""

    def __init__(self, destination: Destination, address: str, deadline: float) -> None:
        super().__init__(destination.host, destination.port)
        self._destination = destination
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        family = socket.AF_INET6 if ":" in self._address else socket.AF_INET
        sock: socket.socket = _DeadlineSocket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(_remaining(self._deadline))
            sock.connect((self._address, self._destination.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._destination.scheme == "https":
                sock.settimeout(_remaining(self._deadline))  # bounds the handshake
                sock = _tls_context().wrap_socket(sock, server_hostname=self._destination.host)
            # Sending waits at most what remains (sendall's timeout is for the whole send).
            sock.settimeout(_remaining(self._deadline))
        except BaseException:
            sock.close()
            raise
        sock.deadline = self._deadline  # type: ignore[attr-defined]
        self.sock = sock
