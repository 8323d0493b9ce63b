"""Where a webhook may be sent: the SSRF rules for a receiver's URL.

A webhook URL is chosen by a tenant, and the service sends to it from inside the cloud, so a
URL must never reach the service's own surroundings: the instance metadata service
(169.254.169.254), the container credentials endpoint (169.254.170.2), loopback, the VPC's
private ranges, or anything that only routes locally. The rules are applied twice: when a
subscription is registered (`parse`, which also checks an IP literal) and again at send time
on every address the host name resolves to (`check_address`, see `store/outbound.py`), and
the connection is then made to the checked address itself, so a name that changes its answer
between the two (DNS rebinding) gains nothing.

`parse` reads the URL itself rather than through `urllib.parse`, so what is checked is
exactly what is connected to, and it refuses what parsers disagree about instead of guessing:
user info (`user@`, `a:b@`, `example.com@127.0.0.1`), backslashes, percent-encoded hosts,
whitespace and control characters, IPv6 zone ids. A fragment is dropped, as every HTTP client
does (it is never sent). Host names are lowercased and IDNA-encoded, and the result is read
again as an IP address, since IDNA maps full-width digits and dots to ASCII ones. IPv4 is read
in every spelling `inet_aton` accepts (decimal `2130706433`, octal `0177.0.0.1`, hex
`0x7f000001`, short `127.1`, mixed `0x7f.1`), because resolvers and sockets accept them too.

Pure: no I/O, standard library only.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

MAX_URL = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationError(ValueError):
    """A URL or address a webhook may not be sent to; `reason` is short and safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Destination(NamedTuple):
    """A checked webhook URL, split into what a connection needs."""

    scheme: str  # "http" or "https"
    host: str  # lowercased, IDNA-encoded, no trailing dot; an IP literal in canonical form
    port: int  # explicit or the scheme's default
    target: str  # path and query as sent in the request line, at least "/"
    literal: str | None  # the IP address when the host is an IP literal

    @property
    def authority(self) -> str:
        """The Host header: host, bracketed if IPv6, with the port unless it is the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL in canonical form."""
        return f"{self.scheme}://{self.authority}{self.target}"


def _net(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr)


LOOPBACK = (_net("127.0.0.0/8"), _net("::1/128"))

# Refused networks and what they are, checked in order (the first match names the reason).
# `ipaddress`'s own is_global is consulted after this table, but its answer varies between
# Python releases (3.11 calls ::ffff:8.8.8.8 and fec0::1 global), so the table stands alone.
REFUSED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (_net("0.0.0.0/8"), "an unspecified address"),
    (_net("10.0.0.0/8"), "a private address"),
    (_net("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (_net("127.0.0.0/8"), "a loopback address"),
    (_net("169.254.0.0/16"), "a link-local address"),  # metadata, container credentials
    (_net("172.16.0.0/12"), "a private address"),
    (_net("192.0.0.0/24"), "a reserved address"),  # IETF protocol assignments
    (_net("192.0.2.0/24"), "a documentation address"),
    (_net("192.88.99.0/24"), "a reserved address"),  # the retired 6to4 relay anycast
    (_net("192.168.0.0/16"), "a private address"),
    (_net("198.18.0.0/15"), "a benchmarking address"),
    (_net("198.51.100.0/24"), "a documentation address"),
    (_net("203.0.113.0/24"), "a documentation address"),
    (_net("224.0.0.0/4"), "a multicast address"),
    (_net("240.0.0.0/4"), "a reserved address"),  # includes 255.255.255.255
    (_net("::/128"), "an unspecified address"),
    (_net("::1/128"), "a loopback address"),
    (_net("::ffff:0:0/96"), "an IPv4-mapped IPv6 address"),
    (_net("::/96"), "an IPv4-compatible IPv6 address"),
    (_net("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_net("100::/64"), "a discard-only address"),
    (_net("2001::/32"), "a Teredo address"),
    (_net("2001:2::/48"), "a benchmarking address"),
    (_net("2001:db8::/32"), "a documentation address"),
    (_net("2001::/23"), "a reserved address"),  # IETF protocol assignments
    (_net("3fff::/20"), "a documentation address"),
    (_net("5f00::/16"), "a reserved address"),  # SRv6 segment identifiers
    (_net("fc00::/7"), "a unique-local address"),
    (_net("fe80::/10"), "a link-local address"),
    (_net("fec0::/10"), "a site-local address"),
    (_net("ff00::/8"), "a multicast address"),
)
# IPv6 ranges that carry an IPv4 address, allowed only if that address is.
NAT64 = _net("64:ff9b::/96")
SIX_TO_FOUR = _net("2002::/16")
GLOBAL_UNICAST = _net("2000::/3")


def refusal(ip: str, *, allow_loopback: bool) -> str | None:
    """Why a webhook may not be sent to this IP address ("a private address"), or None."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # a resolver adds zone ids
    except ValueError:
        return "not a valid IP address"
    if allow_loopback and any(address in network for network in LOOPBACK):
        return None
    return _refusal(address)


def _refusal(address: IPAddress) -> str | None:
    for network, reason in REFUSED:
        if address in network:
            return reason
    if isinstance(address, ipaddress.IPv6Address):
        embedded, kind = _embedded_ipv4(address)
        if embedded is not None:
            inner = _refusal(embedded)
            return f"a {kind} address of {inner}" if inner else None
        if address not in GLOBAL_UNICAST:
            return "an unassigned address"
    return None if address.is_global else "a reserved address"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, str]:
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address in SIX_TO_FOUR:
        return address.sixtofour, "6to4"
    return None, ""


def check_address(ip: str, *, allow_loopback: bool) -> None:
    """Raise DestinationError unless the address is globally routable.

    With `allow_loopback` (local development only), 127.0.0.0/8 and ::1 are allowed too;
    nothing else is, not even loopback spelled as IPv4-mapped or NAT64.
    """
    reason = refusal(ip, allow_loopback=allow_loopback)
    if reason is not None:
        raise DestinationError(f"the host is {reason}")


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_HEX_NUMBER = re.compile(r"0x[0-9a-f]*")
_PORT = re.compile(r"[0-9]{1,5}")
# Names that only mean something inside a network (RFC 6761, 6762, 8375 and ICANN's .internal).
_INTERNAL_SUFFIXES = (".local", ".localdomain", ".internal", ".home.arpa")


def parse(url: str, *, allow_loopback: bool) -> Destination:
    """Split and check a webhook URL, or raise DestinationError saying why it is refused.

    An IP literal is checked here with `check_address`; a host name is checked again when it
    is resolved at send time.
    """
    if len(url) > MAX_URL:
        raise DestinationError(f"the URL is longer than {MAX_URL:,} characters")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise DestinationError("the URL contains whitespace or control characters")
    if "\\" in url:
        raise DestinationError("the URL contains a backslash")
    match = _SCHEME.fullmatch(url)
    scheme = match.group(1).lower() if match else ""
    if scheme not in DEFAULT_PORTS:
        raise DestinationError("the URL must start with http:// or https://")
    rest = match.group(2) if match else ""
    if not rest.startswith("//"):
        raise DestinationError("the URL has no host")
    rest = rest[2:].split("#", 1)[0]
    split = min((rest.index(c) for c in "/?" if c in rest), default=len(rest))
    authority, target = rest[:split], rest[split:]
    if not target.isascii():
        raise DestinationError("the path must be ASCII (percent-encode it)")
    if "@" in authority:
        raise DestinationError("the URL carries user info (user@ or user:password@)")
    host, port = _split_authority(authority, scheme)
    host, literal = _host(host, allow_loopback=allow_loopback)
    target = target if target.startswith("/") else "/" + target
    return Destination(scheme, host, port, target, literal)


def _split_authority(authority: str, scheme: str) -> tuple[str, int]:
    if authority.startswith("["):
        host, bracket, port_part = authority[1:].partition("]")
        if not bracket:
            raise DestinationError("the host's IPv6 address has no closing bracket")
        host = "[" + host + "]"
        if port_part and not port_part.startswith(":"):
            raise DestinationError("the host's IPv6 address is followed by something else")
        port_text = port_part[1:] if port_part else None
    else:
        if authority.count(":") > 1:
            raise DestinationError("an IPv6 address must be in brackets")
        host, colon, port_text_ = authority.partition(":")
        port_text = port_text_ if colon else None
    if not host:
        raise DestinationError("the URL has no host")
    if not port_text:  # absent, or empty as RFC 3986 allows ("host:")
        return host, DEFAULT_PORTS[scheme]
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise DestinationError("the port must be a number from 1 to 65535")
    return host, int(port_text)


def _host(host: str, *, allow_loopback: bool) -> tuple[str, str | None]:
    """The host in canonical form and, for an IP literal, the checked address."""
    if "%" in host:
        if host.startswith("["):
            raise DestinationError("the host carries an IPv6 zone id")
        raise DestinationError("the host is percent-encoded")
    if host.startswith("["):
        try:
            address: IPAddress = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise DestinationError("the host is not a valid IPv6 address") from None
        return _literal(address, allow_loopback=allow_loopback)
    name = _idna(host.lower())
    ipv4 = _legacy_ipv4(name)
    if ipv4 is not None:
        return _literal(ipv4, allow_loopback=allow_loopback)
    _check_name(name, allow_loopback=allow_loopback)
    return name, None


def _literal(address: IPAddress, *, allow_loopback: bool) -> tuple[str, str]:
    check_address(str(address), allow_loopback=allow_loopback)
    return str(address), str(address)


def _idna(name: str) -> str:
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise DestinationError("the host name is not a valid international name") from None
        # IDNA may map a final ideographic full stop to "."
        name = name[:-1] if name.endswith(".") else name
    if not name or len(name) > 253:
        raise DestinationError("the host name is empty or longer than 253 characters")
    return name


def _legacy_ipv4(name: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a name spells as inet_aton reads it, or None for a domain name.

    As in the WHATWG URL standard, a name whose last label is a number is an IPv4 address,
    and is refused if it is not a valid one ("1.2.3.999", "1.2.3.4.5").
    """
    parts = name.split(".")
    if not (parts[-1].isdigit() or _HEX_NUMBER.fullmatch(parts[-1])):
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if len(numbers) > 4 or None in numbers:
        raise DestinationError("the host is not a valid IPv4 address")
    *leading, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in leading) or last >= 256 ** (4 - len(leading)):
        raise DestinationError("the host is not a valid IPv4 address")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 address: 0x hex, 0-prefixed octal or decimal (inet_aton's rules)."""
    if _HEX_NUMBER.fullmatch(part):
        return int(part[2:] or "0", 16)
    if part.isdigit() and part.isascii():
        if len(part) > 1 and part.startswith("0"):
            return int(part, 8) if set(part) <= set("01234567") else None
        return int(part)
    return None


def _check_name(name: str, *, allow_loopback: bool) -> None:
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise DestinationError("the host name is not valid")
    if name == "localhost" and allow_loopback:
        return
    if name == "localhost" or name.endswith(".localhost"):
        raise DestinationError("the host is a loopback name")
    if name.endswith(_INTERNAL_SUFFIXES):
        raise DestinationError("the host name is for internal networks only")
    if "." not in name:
        raise DestinationError("the host name has no dot (a name of the local network)")
