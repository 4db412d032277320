"""Which callback URLs the platform may POST to.

A tenant's ``callbackUrl`` is accepted only when
- its scheme is ``https`` (``http`` too in development; never ``file``, ``gopher`` or anything else);
- it names a host, and no user or password;
- every address its host resolves to is a public unicast address: not loopback, private (RFC 1918,
  ULA), link-local, multicast, unspecified, shared (100.64/10), reserved or documentation space,
  nor a cloud metadata address (169.254.169.254, fd00:ec2::254, 100.100.100.200 …). An IPv6
  address that embeds an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 address.

:class:`CallbackGuard` checks a URL when the tenant registry is loaded (:func:`vet`) and again at
send time (:meth:`CallbackGuard.resolve`), which returns the checked addresses: the sender connects
to one of those (keeping the host name for the ``Host`` header and TLS), so a second DNS answer
cannot move the request to another address (DNS rebinding).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from cbec.tenants import TenantRegistry

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
"""``(host, port)`` → the addresses the host resolves to (raise ``OSError`` when it does not)."""

METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack …
    "169.254.170.2",  # AWS ECS task metadata
    "fd00:ec2::254",  # AWS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",  # Azure wire server
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class CallbackRefused(ValueError):
    """The URL may not be called; the message says which rule it breaks."""


class Unresolvable(CallbackRefused):
    """The callback host does not resolve (now)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked callback: where to connect (``addresses``, every one allowed) and what to call it."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    def pinned_url(self, address: str | None = None) -> str:
        """The URL with its host replaced by a checked address (the first by default)."""
        ip = ipaddress.ip_address(address or self.addresses[0])
        netloc = f"[{ip}]:{self.port}" if ip.version == 6 else f"{ip}:{self.port}"
        return urlsplit(self.url)._replace(netloc=netloc).geturl()

    @property
    def host_header(self) -> str:
        default = {"https": 443, "http": 80}[self.scheme]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, by the system's resolver."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(address: str) -> str | None:
    """Why a connection to ``address`` is not allowed; None for a public unicast address."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    inner = embedded_ipv4(ip)
    if inner is not None:
        problem = address_problem(str(inner))
        return f"{ip} embeds {problem}" if problem else None
    checks = (
        (ip in METADATA, "a cloud metadata address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    for hit, what in checks:
        if hit:
            return f"{ip} is {what}"
    return None


class CallbackGuard:
    """The callback URL rules of this process: ``https`` only in production; ``resolver`` finds addresses."""

    def __init__(self, *, production: bool, resolver: Resolver | None = None) -> None:
        self.production = production
        self.resolver: Resolver = resolver or system_resolver

    def parse(self, url: str) -> tuple[SplitResult, str, int]:
        """The URL's parts, host and port; refuses what no resolution can fix (scheme, no host, credentials)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as bad:
            raise CallbackRefused(f"callback URL {url!r} is malformed: {bad}") from None
        allowed = ("https",) if self.production else ("https", "http")
        if parts.scheme not in allowed:
            rule = "only https in production" if self.production and parts.scheme == "http" else "only http(s)"
            raise CallbackRefused(f"callback URL scheme {parts.scheme or '(none)'!r} is refused ({rule})")
        if not parts.hostname:
            raise CallbackRefused(f"callback URL {url!r} names no host")
        if parts.username is not None or parts.password is not None:
            raise CallbackRefused("callback URL carries credentials; authenticate with the webhook signature")
        return parts, parts.hostname, port or (443 if parts.scheme == "https" else 80)

    def resolve(self, url: str) -> Target:
        """The checked target: every address the host resolves to now must be allowed."""
        parts, host, port = self.parse(url)
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = list(dict.fromkeys(self.resolver(host, port)))
            except OSError as exc:
                raise Unresolvable(f"callback host {host} does not resolve: {exc}") from None
        if not addresses:
            raise CallbackRefused(f"callback host {host} resolves to no address")
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise CallbackRefused(f"callback host {host} resolves to {problem}")
        return Target(url, parts.scheme, host, port, tuple(addresses))


def vet(registry: TenantRegistry, guard: CallbackGuard) -> tuple[TenantRegistry, list[str]]:
    """The registry with every refused callback URL removed, and one problem per removal.

    A host that does not resolve now is kept (the send-time check refuses it if it still does not).
    """
    problems: list[str] = []
    tenants = []
    for tenant in registry.all():
        if tenant.callback_url:
            try:
                guard.resolve(tenant.callback_url)
            except Unresolvable:
                pass
            except CallbackRefused as refused:
                problems.append(f"tenant {tenant.customs_code}: callbackUrl refused ({refused}); its"
                                " callbacks are disabled")
                tenant = dataclasses.replace(tenant, callback_url="")
        tenants.append(tenant)
    return TenantRegistry(tenants), problems
