"""Webhook sends against real HTTP(S) receivers on 127.0.0.1: pinned, bounded, never redirected.

Names are mapped to addresses by an injected resolver, so no test needs DNS; every receiver
listens on 127.0.0.1 (allowed here with allow_loopback=True, as in local development).
"""

from __future__ import annotations

import datetime
import email.utils
import http.server
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chalicelib.domain.destinations import Destination, DestinationError, parse
from chalicelib.store import outbound

TIMEOUT = 0.5
Answer = Callable[["_Handler"], None]


@dataclass
class Seen:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A receiver on 127.0.0.1 that records requests and answers with `answer`."""

    answer: Answer
    requests: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, host: str = "127.0.0.1", path: str = "/hook", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.receiver.requests.append(Seen(self.path, dict(self.headers.items()), body))
        self.receiver.answer(self)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test output is not the place for a receiver's access log

    def reply(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Callable[..., Receiver]]:
    """Start receivers for the test; each is shut down and released when it ends."""
    started: list[tuple[http.server.ThreadingHTTPServer, threading.Thread, Receiver]] = []

    def start(answer: Answer, tls: ssl.SSLContext | None = None) -> Receiver:
        receiver = Receiver(answer)
        handler = type("Handler", (_Handler,), {"receiver": receiver})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        receiver.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        started.append((server, thread, receiver))
        return receiver

    yield start
    for server, thread, receiver in started:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def names() -> Iterator[dict[str, list[str]]]:
    """Host names the injected resolver knows; any other name does not resolve."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    with outbound.resolving_with(resolve):
        yield table


def send(
    url: str, body: bytes = b'{"id":"evt_1"}', headers: dict[str, str] | None = None
) -> outbound.Response:
    """Check, resolve and send as delivery does, with loopback allowed."""
    destination = parse(url, allow_loopback=True)
    address = outbound.resolve_checked(destination, allow_loopback=True)
    return outbound.post(destination, address, body, headers or {}, timeout=TIMEOUT)


def ok(handler: _Handler) -> None:
    handler.reply(204)


def test_the_receiver_gets_the_body_and_headers_over_a_connection_pinned_to_the_checked_address(
    serve: Callable[..., Receiver], names: dict[str, list[str]]
) -> None:
    # GIVEN a receiver on 127.0.0.1 and a name that resolves to it (only through our resolver)
    receiver = serve(ok)
    names["receiver.test"] = ["127.0.0.1"]
    body = b'{"id":"evt_1","type":"webhook.test"}'
    # WHEN a webhook is sent to the name
    response = send(receiver.url("receiver.test"), body, {"webhook-id": "msg_1"})
    # THEN it arrived as sent, naming the host the URL names
    assert response.status == 204
    assert response.error is None
    (seen,) = receiver.requests
    assert seen.path == "/hook"
    assert seen.body == body
    assert seen.headers["Host"] == f"receiver.test:{receiver.port}"
    assert seen.headers["webhook-id"] == "msg_1"
    assert seen.headers["User-Agent"] == "Custos-Webhooks/1"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Content-Length"] == str(len(body))


def test_given_headers_replace_the_defaults_but_not_the_pinned_host(
    serve: Callable[..., Receiver],
) -> None:
    receiver = serve(ok)
    send(receiver.url(), headers={"content-type": "application/cloudevents+json", "Host": "evil"})
    (seen,) = receiver.requests
    assert seen.headers["content-type"] == "application/cloudevents+json"
    assert seen.headers["Host"] == f"127.0.0.1:{receiver.port}"


def test_a_redirect_is_the_answer_and_its_location_is_not_fetched(
    serve: Callable[..., Receiver],
) -> None:
    target = serve(ok)
    redirecting = serve(lambda h: h.reply(302, {"Location": target.url(path="/stolen")}))
    response = send(redirecting.url())
    assert response.status == 302
    assert len(redirecting.requests) == 1
    assert target.requests == []


def test_the_start_of_the_answers_body_is_kept_as_an_excerpt(
    serve: Callable[..., Receiver],
) -> None:
    receiver = serve(lambda h: h.reply(400, body=b"bad \xff signature" + b"x" * 10_000))
    response = send(receiver.url())
    assert response.status == 400
    assert response.excerpt.startswith("bad \ufffd signature")
    assert len(response.excerpt) == outbound.EXCERPT_BYTES


def test_a_receiver_that_answers_too_late_is_a_timeout(serve: Callable[..., Receiver]) -> None:
    def late(handler: _Handler) -> None:
        handler.receiver.release.wait(10 * TIMEOUT)  # released when the test ends
        handler.reply(200)

    response = send(serve(late).url())
    assert response.status is None
    assert response.error == "timeout"


def test_a_receiver_that_drips_its_answer_cannot_hold_the_sender_past_the_deadline(
    serve: Callable[..., Receiver],
) -> None:
    # GIVEN a receiver that sends its answer one byte every 0.2 s (7.6 s in all): each read
    # returns well within the 0.5 s timeout, so only the deadline of the whole exchange can
    # make this a timeout
    def drip(handler: _Handler) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
            if handler.receiver.release.wait(0.2):
                return
            try:
                handler.wfile.write(bytes([byte]))
            except OSError:
                return  # the sender has gone

    response = send(serve(drip).url())
    assert response.status is None
    assert response.error == "timeout"


def test_retry_after_is_read_as_seconds_or_as_an_http_date(serve: Callable[..., Receiver]) -> None:
    in_an_hour = email.utils.format_datetime(
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1), usegmt=True
    )
    seconds = serve(lambda h: h.reply(429, {"Retry-After": "120"}))
    date = serve(lambda h: h.reply(503, {"Retry-After": in_an_hour}))
    garbage = serve(lambda h: h.reply(503, {"Retry-After": "soon"}))
    assert send(seconds.url()).retry_after_seconds == 120.0
    from_date = send(date.url()).retry_after_seconds
    assert from_date is not None
    assert 3590 <= from_date <= 3600
    assert send(garbage.url()).retry_after_seconds is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        (" 30 ", 30.0),
        ("9999999", 86400.0),
        ("Wed, 21 Oct 2015 07:30:00 GMT", 90.0),
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:30:00 -0000", None),
        ("-5", None),
        ("1.5", None),
        ("tomorrow", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_capped_at_a_day_and_garbage_is_ignored(
    value: str | None, seconds: float | None
) -> None:
    now = datetime.datetime(2015, 10, 21, 7, 28, 30, tzinfo=datetime.UTC).timestamp()
    assert outbound.retry_after_seconds(value, now=now) == seconds


def test_a_closed_port_is_an_error_not_an_exception() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe has closed it.
    response = send(f"http://127.0.0.1:{port}/")
    assert response.status is None
    assert response.error == "connection refused"


def test_a_name_that_resolves_to_loopback_is_refused_and_nothing_is_sent(
    serve: Callable[..., Receiver], names: dict[str, list[str]]
) -> None:
    receiver = serve(ok)
    names["receiver.test"] = ["127.0.0.1"]
    destination = parse(receiver.url("receiver.test"), allow_loopback=False)
    with pytest.raises(DestinationError, match="the host resolves to a loopback address"):
        outbound.resolve_checked(destination, allow_loopback=False)
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.1.2.3"], "resolves to a private address"),
        (["169.254.169.254"], "resolves to a link-local address"),
        (["fd12::1"], "resolves to a unique-local address"),
        (["::ffff:192.168.0.1"], "resolves to an IPv4-mapped IPv6 address"),
        (["93.184.215.14", "192.168.0.10"], "resolves to a private address"),
        (["2606:4700::1", "::1"], "resolves to a loopback address"),
        ([], "does not resolve"),
    ],
)
def test_a_name_is_refused_if_any_address_it_resolves_to_is_refused(
    names: dict[str, list[str]], addresses: list[str], reason: str
) -> None:
    names["hooks.example.com"] = addresses
    destination = parse("https://hooks.example.com/in", allow_loopback=False)
    with pytest.raises(DestinationError, match=reason):
        outbound.resolve_checked(destination, allow_loopback=False)


def test_a_name_that_does_not_resolve_is_refused(names: dict[str, list[str]]) -> None:
    destination = parse("https://nowhere.example/in", allow_loopback=False)
    with pytest.raises(DestinationError, match="the host does not resolve"):
        outbound.resolve_checked(destination, allow_loopback=False)


def test_a_name_with_only_public_addresses_gives_the_first_to_connect_to(
    names: dict[str, list[str]],
) -> None:
    names["hooks.example.com"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    destination = parse("https://hooks.example.com:8443/a?b=c", allow_loopback=False)
    assert outbound.resolve_checked(destination, allow_loopback=False) == "93.184.215.14"


def test_an_ip_literal_is_its_own_address() -> None:
    destination = Destination("http", "8.8.8.8", 80, "/", "8.8.8.8")
    assert outbound.resolve_checked(destination, allow_loopback=False) == "8.8.8.8"


def test_the_system_resolver_knows_localhost() -> None:
    addresses = outbound.system_resolver("localhost", 80)
    assert set(addresses) & {"127.0.0.1", "::1"}


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(serve: Callable[..., Receiver], tmp_path: Path) -> Iterator[tuple[Receiver, Path]]:
    """An https receiver on 127.0.0.1 whose certificate names receiver.test."""
    cert, key = _certificate(tmp_path, "receiver.test")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    yield serve(ok, tls=server_context), cert
    outbound.set_tls_context(None)


def test_https_verifies_the_certificate_against_the_urls_host_not_the_address(
    tls_receiver: tuple[Receiver, Path], names: dict[str, list[str]]
) -> None:
    # GIVEN a receiver whose certificate (trusted here) names receiver.test, reached at 127.0.0.1
    receiver, cert = tls_receiver
    outbound.set_tls_context(ssl.create_default_context(cafile=str(cert)))
    names["receiver.test"] = ["127.0.0.1"]
    names["other.test"] = ["127.0.0.1"]
    # THEN the name on the certificate is accepted and another name at the same address is not
    assert send(receiver.url("receiver.test", scheme="https")).status == 204
    mismatch = send(receiver.url("other.test", scheme="https"))
    assert mismatch.status is None
    assert mismatch.error is not None
    assert mismatch.error.startswith("tls: hostname mismatch")
    assert len(receiver.requests) == 1


def test_https_refuses_a_certificate_nobody_vouches_for(
    tls_receiver: tuple[Receiver, Path], names: dict[str, list[str]]
) -> None:
    receiver, _ = tls_receiver
    names["receiver.test"] = ["127.0.0.1"]
    response = send(receiver.url("receiver.test", scheme="https"))
    assert response.status is None
    assert response.error is not None
    assert response.error.startswith("tls: self-signed certificate")
    assert receiver.requests == []


def test_plain_http_to_an_https_receiver_is_an_error_not_an_exception(
    tls_receiver: tuple[Receiver, Path],
) -> None:
    receiver, _ = tls_receiver
    response = send(receiver.url())
    assert response.status is None
    assert response.error is not None


def test_a_tls_handshake_that_never_completes_is_a_timeout() -> None:
    # GIVEN a TCP listener that accepts and never speaks
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        response = send(f"https://127.0.0.1:{listener.getsockname()[1]}/")
    assert response.status is None
    assert response.error == "timeout"
