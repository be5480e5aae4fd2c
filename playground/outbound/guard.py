"""The SSRF guard: which URLs and which addresses server-side requests may reach.

Two layers use it. `check_url` answers early (a callback URL is refused with
422 before anything is created). The connection layer (`client.py`) applies
the same `Policy` to the addresses it actually connects to, which is the check
that counts: it runs on every redirect hop, and the address checked is the
address connected to, so a host that resolves to a public address for the
check and to 127.0.0.1 for the connection (DNS rebinding) gets nowhere.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .errors import UnsafeURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")
# Longer callback URLs are refused before anything is created.
MAX_CALLBACK_URL_LENGTH = 2000

# Shared address space for carrier-grade NAT: not "private" to Python before
# 3.13's fixes, but never a public destination either.
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# IPv6 forms that carry an IPv4 address a packet may end up at.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
# Everything outside 2000::/3 is either special-purpose or unassigned.
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")


class AddressRefused(Exception):
    """Raised by the connection layer; turned into UnsafeURL with the URL in it."""

    def __init__(self, host: str, address: IPAddress, label: str) -> None:
        super().__init__(f"{host} resolves to a {label} address ({shown(address)})")
        self.host = host
        self.address = address
        self.label = label


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one."""
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return address.ipv4_mapped
    if address in _NAT64 or (int(address) >> 32 == 0 and int(address) > 1):
        # NAT64 (64:ff9b::a.b.c.d) and the deprecated IPv4-compatible ::a.b.c.d.
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIXTOFOUR:
        return address.sixtofour
    return None


def _label(address: IPAddress) -> str | None:
    """Why `address` is not a public destination, or None when it is one."""
    # Order matters only for the message: the most telling word first.
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    # Python calls IPv4 multicast "global"; it is never a web server.
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared (carrier-grade NAT)"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_reserved:  # before private: Python counts 240.0.0.0/4 as both
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def classify(address: IPAddress) -> str | None:
    """The kind of non-public address this is ("loopback", "private", ...), or None if public.

    IPv6 addresses that embed an IPv4 address (::ffff:127.0.0.1, 64:ff9b::a00:1,
    2002:a00:1::) are judged by the IPv4 address they lead to.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_unspecified or address.is_loopback:
            return _label(address)
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            label = _label(embedded)
            if label is None and address.ipv4_mapped is None and address not in _NAT64:
                # ::8.8.8.8 and 6to4 are not how anyone publishes a service.
                return "reserved"
            return label
        label = _label(address)
        if label is None and address not in _GLOBAL_UNICAST_V6:
            return "reserved"
        return label
    return _label(address)


@functools.lru_cache(maxsize=16)
def _parse_networks(raw: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for value in raw:
        try:
            # strict: "127.0.0.5/8" is a typo or a misunderstanding; say so
            # rather than silently allowing all of 127.0.0.0/8.
            networks.append(ipaddress.ip_network(value.strip(), strict=True))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"ALLOWED_PRIVATE_NETWORKS: {value!r} is not a network in CIDR form ({exc})."
            ) from None
    return tuple(networks)


def _setting_networks() -> tuple[IPNetwork, ...]:
    raw = getattr(settings, "ALLOWED_PRIVATE_NETWORKS", None) or ()
    if isinstance(raw, str):  # tolerate "10.0.0.0/8,192.168.1.0/24" from an env var
        raw = [part for part in raw.split(",") if part.strip()]
    return _parse_networks(tuple(str(value) for value in raw))


@dataclass(frozen=True)
class Policy:
    """Which addresses a request may connect to. Hashable: the connection pools are keyed by it.

    Built at call time by `Policy.current`, so a change of settings (tests,
    a reload) applies to the next request.
    """

    allow_all: bool = False
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def current(cls, allow_private: bool = False) -> Policy:
        if allow_private or getattr(settings, "ALLOW_PRIVATE_URLS", False):
            return cls(allow_all=True)
        return cls(allow_all=False, networks=_setting_networks())

    def refusal(self, address: IPAddress) -> str | None:
        """The reason to refuse connecting to `address`, or None to allow it."""
        if self.allow_all:
            return None
        label = classify(address)
        if label is None or self._listed(address):
            return None
        return label

    def _listed(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(candidate in network for candidate in candidates for network in self.networks)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order, without duplicates.

    Raises OSError (socket.gaierror) when it does not resolve. The system
    resolver has no timeout of its own here; it gives up after its
    configured attempts (resolv.conf), which is why callers keep it to one
    lookup per connection.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"no IP address for {host}")
    return addresses


def display(url: httpx.URL) -> str:
    """The URL as we show it in messages and logs: no credentials, no query, no fragment.

    Query strings of signed URLs and callback URLs often carry tokens.
    """
    return str(url.copy_with(userinfo=None, query=None, fragment=None))


def parse_url(url: str | httpx.URL) -> httpx.URL:
    """Parse and check the shape of a URL: http(s), a host, no user name or password.

    Every URL a user sends passes through here before anything else reads
    it, so whatever cannot be parsed is refused here with UnsafeURL and a
    reason, never with another exception.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeURL(f"{str(url)[:200]!r} is not a valid URL ({exc}).") from None
    try:
        host = parsed.host
    except UnicodeError:
        # httpx keeps an "xn--" label as sent and decodes it only when .host
        # is read; a label that is not valid Punycode (http://xn--localhost/)
        # then raises one of idna's UnicodeError subclasses.
        raise UnsafeURL(
            f"{display(parsed)} has an invalid host name: "
            f"{parsed.raw_host.decode('ascii')} is not a valid internationalized domain name."
        ) from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "no scheme"
        raise UnsafeURL(
            f"{display(parsed)} uses {scheme}; only http and https URLs can be fetched."
        )
    if parsed.userinfo:
        raise UnsafeURL(
            f"{display(parsed)} has a user name or password in it; "
            "URLs with credentials are not allowed."
        )
    if not host:
        raise UnsafeURL(f"{display(parsed)} has no host.")
    return parsed


def port_of(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def shown(address: IPAddress) -> str:
    """The address as people write it: ::ffff:127.0.0.1, not ::ffff:7f00:1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def refused_message(
    url: httpx.URL, address: IPAddress, label: str, *, redirected_from: httpx.URL | None = None
) -> str:
    target = display(url)
    if redirected_from is not None:
        target = f"{display(redirected_from)} redirected to {target}, which"
    return f"{target} resolves to a {label} address ({shown(address)}); fetching it is not allowed."


def refusal_among(addresses: Iterable[IPAddress], policy: Policy) -> tuple[IPAddress, str] | None:
    """The first refused address and why, or None when every one of them is allowed.

    Every address must pass, not just the first: a connection that fails on
    the public one falls through to the next, which could be private.
    """
    for address in addresses:
        label = policy.refusal(address)
        if label is not None:
            return address, label
    return None


def check_url(url: str | httpx.URL, *, allow_private: bool = False) -> None:
    """Raise UnsafeURL unless `url` may be fetched now; return None when it may.

    Checks the shape (http or https, a host, no credentials) and, unless
    private addresses are allowed, that every address the host resolves to is
    public. A host that does not resolve is refused ("could not resolve
    host"). With ALLOW_PRIVATE_URLS or allow_private=True only the shape is
    checked. Fetching re-checks at connection time; this is the early answer
    for request validation.
    """
    parsed = parse_url(url)
    policy = Policy.current(allow_private)
    if policy.allow_all:
        return
    try:
        addresses = resolve(parsed.raw_host.decode("ascii"), port_of(parsed))
    except (OSError, UnicodeError):
        raise UnsafeURL(f"{display(parsed)}: could not resolve host {parsed.host}.") from None
    refused = refusal_among(addresses, policy)
    if refused is not None:
        raise UnsafeURL(refused_message(parsed, *refused))


def callback_url_error(url: str) -> str | None:
    """Why a callback URL cannot be used (checked when it is given), or None."""
    if len(url) > MAX_CALLBACK_URL_LENGTH:
        return f"The callback URL is longer than {MAX_CALLBACK_URL_LENGTH} characters."
    try:
        check_url(url)
    except UnsafeURL as exc:
        return str(exc)
    return None
