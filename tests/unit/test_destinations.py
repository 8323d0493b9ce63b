"""The SSRF rules for webhook URLs: what may be registered and sent to, and what may not."""

from __future__ import annotations

import pytest

from chalicelib.domain.destinations import (
    Destination,
    DestinationError,
    check_address,
    parse,
)

REFUSED_URLS = [
    pytest.param("http://127.0.0.1/", "loopback address", id="loopback-dotted"),
    pytest.param("http://127.8.9.10:8080/x", "loopback address", id="loopback-anywhere-in-127"),
    pytest.param("http://localhost/", "loopback name", id="localhost"),
    pytest.param("http://LocalHost./", "loopback name", id="localhost-mixed-case-trailing-dot"),
    pytest.param("http://api.localhost/", "loopback name", id="subdomain-of-localhost"),
    pytest.param("http://2130706433/", "loopback address", id="loopback-decimal"),
    pytest.param("http://0177.0.0.1/", "loopback address", id="loopback-octal"),
    pytest.param("http://0x7f000001/", "loopback address", id="loopback-hex"),
    pytest.param("http://0x7f.1/", "loopback address", id="loopback-hex-short"),
    pytest.param("http://127.1/", "loopback address", id="loopback-short"),
    pytest.param("http://127.0.1/", "loopback address", id="loopback-three-parts"),
    pytest.param(
        "http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/",
        "loopback",
        id="loopback-full-width-digits",
    ),
    pytest.param("http://0.0.0.0/", "unspecified address", id="unspecified-ipv4"),
    pytest.param("http://0/", "unspecified address", id="unspecified-as-zero"),
    pytest.param("http://[::]/", "unspecified address", id="unspecified-ipv6"),
    pytest.param("http://[::1]/", "loopback address", id="loopback-ipv6"),
    pytest.param("http://[::ffff:127.0.0.1]/", "IPv4-mapped", id="mapped-loopback-dotted"),
    pytest.param("http://[::ffff:7f00:1]/", "IPv4-mapped", id="mapped-loopback-hex"),
    pytest.param("http://[::ffff:8.8.8.8]/", "IPv4-mapped", id="mapped-public"),
    pytest.param("http://[::127.0.0.1]/", "IPv4-compatible", id="ipv4-compatible"),
    pytest.param("http://[fd00::1]/", "unique-local address", id="unique-local"),
    pytest.param("http://[fe80::1]/", "link-local address", id="link-local-ipv6"),
    pytest.param("http://[fe80::1%25eth0]/", "zone id", id="link-local-ipv6-zone-id"),
    pytest.param("http://[fec0::1]/", "site-local address", id="site-local-ipv6"),
    pytest.param("http://[ff02::1]/", "multicast address", id="multicast-ipv6"),
    pytest.param("http://169.254.169.254/latest/meta-data/", "link-local", id="instance-metadata"),
    pytest.param("http://169.254.170.2/v2/credentials", "link-local", id="container-credentials"),
    pytest.param("http://0xa9fea9fe/", "link-local address", id="instance-metadata-hex"),
    pytest.param("http://10.0.0.1/", "private address", id="private-10"),
    pytest.param("http://172.16.0.1/", "private address", id="private-172-16"),
    pytest.param("http://172.31.255.254/", "private address", id="private-172-31"),
    pytest.param("http://192.168.1.1/", "private address", id="private-192-168"),
    pytest.param("http://100.64.0.1/", "shared", id="carrier-grade-nat"),
    pytest.param("http://192.0.2.1/", "documentation address", id="documentation-ipv4"),
    pytest.param("http://198.18.0.1/", "benchmarking address", id="benchmarking-ipv4"),
    pytest.param("http://224.0.0.1/", "multicast address", id="multicast-ipv4"),
    pytest.param("http://255.255.255.255/", "reserved address", id="broadcast"),
    pytest.param("http://[2001:db8::1]/", "documentation address", id="documentation-ipv6"),
    pytest.param("http://[64:ff9b::7f00:1]/", "NAT64 address of a loopback", id="nat64-loopback"),
    pytest.param("http://[64:ff9b::a00:1]/", "NAT64 address of a private", id="nat64-private"),
    pytest.param("http://[2002:7f00:1::]/", "6to4 address of a loopback", id="6to4-loopback"),
    pytest.param("http://[2002:a9fe:a9fe::]/", "6to4 address of a link-local", id="6to4-metadata"),
    pytest.param("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo", id="teredo"),
    pytest.param("http://example.com@127.0.0.1/", "user info", id="userinfo-host-trick"),
    pytest.param("http://user:pass@example.com/", "user info", id="userinfo-password"),
    pytest.param("http://user@example.com/", "user info", id="userinfo-user"),
    pytest.param("http://example.com\\@127.0.0.1/", "backslash", id="backslash"),
    pytest.param("http://%31%32%37.0.0.1/", "percent-encoded", id="percent-encoded-host"),
    pytest.param("http://exa mple.com/", "whitespace", id="space-in-host"),
    pytest.param("http://example.com/\r\nX-Injected: 1", "whitespace", id="header-injection"),
    pytest.param("http://example.com\x00.evil/", "control", id="nul-in-host"),
    pytest.param("ftp://example.com/", "http:// or https://", id="ftp"),
    pytest.param("file:///etc/passwd", "http:// or https://", id="file"),
    pytest.param("gopher://127.0.0.1:6379/_FLUSHALL", "http:// or https://", id="gopher"),
    pytest.param("javascript:alert(1)", "http:// or https://", id="javascript"),
    pytest.param("//example.com/", "http:// or https://", id="scheme-relative"),
    pytest.param("http:example.com/", "no host", id="no-slashes"),
    pytest.param("http:///path", "no host", id="empty-host"),
    pytest.param("http://example.com:0/", "port", id="port-zero"),
    pytest.param("http://example.com:65536/", "port", id="port-too-high"),
    pytest.param("http://example.com:+80/", "port", id="port-signed"),
    pytest.param("http://::1/", "brackets", id="ipv6-unbracketed"),
    pytest.param("http://[::1/", "closing bracket", id="ipv6-unclosed"),
    pytest.param("http://1.2.3.999/", "not a valid IPv4", id="ipv4-part-too-large"),
    pytest.param("http://1.2.3.4.5/", "not a valid IPv4", id="ipv4-five-parts"),
    pytest.param("http://08.0.0.1/", "not a valid IPv4", id="ipv4-bad-octal"),
    pytest.param("http://intranet/", "no dot", id="single-label-name"),
    pytest.param("http://printer.local/", "internal networks", id="mdns-name"),
    pytest.param("http://db.internal/", "internal networks", id="internal-tld"),
    pytest.param("http://exa_mple-.com:80/", "not valid", id="label-ends-with-hyphen"),
    pytest.param("http://example.com/" + "a" * 2048, "2,048", id="too-long"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_URLS)
def test_a_url_that_reaches_inside_the_network_or_hides_its_host_is_refused(
    url: str, reason: str
) -> None:
    with pytest.raises(DestinationError, match=reason):
        parse(url, allow_loopback=False)


def test_at_least_thirty_kinds_of_url_are_refused() -> None:
    assert len(REFUSED_URLS) >= 30


def test_a_refusal_is_a_value_error_whose_reason_can_be_shown_to_the_user() -> None:
    with pytest.raises(ValueError, match="the host is a private address") as caught:
        parse("http://10.1.2.3/hook", allow_loopback=False)
    assert isinstance(caught.value, DestinationError)
    assert caught.value.reason == "the host is a private address"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://hooks.example.com:8443/a?b=c",
            Destination("https", "hooks.example.com", 8443, "/a?b=c", None),
            id="https-with-port-path-and-query",
        ),
        pytest.param(
            "HTTPS://Hooks.Example.COM./in",
            Destination("https", "hooks.example.com", 443, "/in", None),
            id="case-and-trailing-dot-normalised",
        ),
        pytest.param(
            "http://example.com",
            Destination("http", "example.com", 80, "/", None),
            id="no-path-becomes-slash",
        ),
        pytest.param(
            "http://example.com?x=1#section",
            Destination("http", "example.com", 80, "/?x=1", None),
            id="query-kept-fragment-dropped",
        ),
        pytest.param(
            "http://example.com:/x",
            Destination("http", "example.com", 80, "/x", None),
            id="empty-port-is-the-default",
        ),
        pytest.param(
            "https://b\u00fccher.example/hook",
            Destination("https", "xn--bcher-kva.example", 443, "/hook", None),
            id="international-name-idna-encoded",
        ),
        pytest.param(
            "http://8.8.8.8/hook",
            Destination("http", "8.8.8.8", 80, "/hook", "8.8.8.8"),
            id="public-ipv4",
        ),
        pytest.param(
            "http://134744072/",
            Destination("http", "8.8.8.8", 80, "/", "8.8.8.8"),
            id="public-ipv4-decimal-canonicalised",
        ),
        pytest.param(
            "https://[2606:4700:4700::1111]:8443/",
            Destination("https", "2606:4700:4700::1111", 8443, "/", "2606:4700:4700::1111"),
            id="public-ipv6",
        ),
        pytest.param(
            "http://[64:ff9b::808:808]/",
            Destination("http", "64:ff9b::808:808", 80, "/", "64:ff9b::808:808"),
            id="nat64-of-a-public-address",
        ),
        pytest.param(
            "http://1.2.3.example.com/",
            Destination("http", "1.2.3.example.com", 80, "/", None),
            id="name-with-numeric-labels",
        ),
    ],
)
def test_a_public_url_is_accepted_and_split_for_the_connection(
    url: str, expected: Destination
) -> None:
    assert parse(url, allow_loopback=False) == expected


def test_the_host_header_names_the_port_only_when_it_is_not_the_default() -> None:
    assert parse("https://example.com/", allow_loopback=False).authority == "example.com"
    assert parse("http://example.com:8080/", allow_loopback=False).authority == "example.com:8080"
    assert parse("http://[2606:4700::1]:81/", allow_loopback=False).authority == (
        "[2606:4700::1]:81"
    )
    assert parse("HTTP://Example.com:80", allow_loopback=False).url == "http://example.com/"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "http://localhost:9000/", "http://[::1]:8000/", "http://127.1/"],
)
def test_local_development_allows_loopback(url: str) -> None:
    assert parse(url, allow_loopback=True).scheme == "http"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
        ("http://[64:ff9b::7f00:1]/", "NAT64"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://api.localhost/", "loopback name"),
        ("http://intranet/", "no dot"),
    ],
)
def test_local_development_still_refuses_everything_but_plain_loopback(
    url: str, reason: str
) -> None:
    with pytest.raises(DestinationError, match=reason):
        parse(url, allow_loopback=True)


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.20.30.40", "private"),
        ("169.254.170.2", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("::ffff:10.0.0.1", "IPv4-mapped"),
        ("2002:c0a8:101::1", "6to4 address of a private"),
        ("::", "unspecified"),
        ("4000::1", "unassigned"),
        ("not-an-ip", "not a valid IP address"),
    ],
)
def test_a_resolved_address_that_is_not_globally_routable_is_refused(ip: str, reason: str) -> None:
    with pytest.raises(DestinationError, match=reason):
        check_address(ip, allow_loopback=False)


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::1"])
def test_a_globally_routable_address_passes(ip: str) -> None:
    check_address(ip, allow_loopback=False)


def test_allowing_loopback_allows_exactly_the_loopback_addresses() -> None:
    check_address("127.0.0.1", allow_loopback=True)
    check_address("127.255.0.9", allow_loopback=True)
    check_address("::1", allow_loopback=True)
    for ip in ("10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "0.0.0.0", "fd00::1"):
        with pytest.raises(DestinationError, match="the host is"):
            check_address(ip, allow_loopback=True)
