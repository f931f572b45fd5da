"""Which webhook destinations are allowed: no requests into the platform's own network (SSRF).

The rule holds in every environment, because a development or staging host on a cloud VM
has a metadata endpoint too: a destination must be a public unicast address. Refused are
private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 — the cloud metadata
address 169.254.169.254 — and fe80::/10), shared/CGNAT (100.64/10), multicast, reserved,
unspecified and documentation ranges, IPv4-mapped forms of those, and local names
(``localhost``, ``*.internal`` such as ``metadata.google.internal``, ``*.local``, bare
names). Loopback is allowed only when ``TONGKA_WEBHOOK_ALLOW_LOOPBACK`` is set, outside
production (tests run a receiver on 127.0.0.1).

Two checks:

- **At registration** (``validate_endpoint_url``): the URL's shape, and its host if it is an
  address or a local name. A name is not resolved here: what it resolves to today says
  nothing about the next delivery.
- **At each delivery** (``resolve_destination``): the name is resolved *once*, every address
  it gives is checked, and the connection goes to the checked address (see
  ``delivery.py``). Resolving again to connect would let a rebinding DNS server answer a
  public address to the check and 127.0.0.1 to the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from tongka.config import Settings
from tongka.errors import BusinessRuleViolation, InvalidRequest

MAX_URL_LENGTH = 2048
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the name resolves to; tests replace it to play DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class DestinationRefused(BusinessRuleViolation):
    """The URL is well formed but points into a network webhooks may not reach."""

    code = "url_destination_refused"


def loopback_allowed(settings: Settings) -> bool:
    """Loopback only on request, and never in production."""
    return settings.webhook_allow_loopback and settings.environment != "production"


def address_refusal(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why ``address`` may not receive webhooks, or ``None`` if it may."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_loopback:
        return None if allow_loopback else "loopback addresses are not allowed"
    if address.is_link_local:
        return "link-local addresses (such as cloud metadata endpoints) are not allowed"
    if address.is_multicast:
        return "multicast addresses are not allowed"
    if address.is_unspecified:
        return "the unspecified address is not allowed"
    if not address.is_global or address.is_reserved:
        return "private, shared and reserved network addresses are not allowed"
    return None


def host_refusal(host: str, *, allow_loopback: bool) -> str | None:
    """Why ``host`` (a name or an address literal) is refused before any lookup, or ``None``."""
    host = host.lower().rstrip(".")
    try:
        return address_refusal(ipaddress.ip_address(host), allow_loopback=allow_loopback)
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return None if allow_loopback else "loopback addresses are not allowed"
    if host.endswith(_LOCAL_SUFFIXES) or "." not in host:
        return "names of the local network are not allowed"
    return None


def _split(url: str, settings: Settings) -> SplitResult:
    def refuse(reason: str, problem: str, **parameters: object) -> InvalidRequest:
        details = {"problem": problem, **parameters}
        return InvalidRequest(f"url: {reason}", code="url_invalid", param="url", details=details)

    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"at most {MAX_URL_LENGTH} characters", "too_long", maximum=MAX_URL_LENGTH)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise refuse("not a valid URL", "malformed") from exc
    allowed_schemes = ("https",) if settings.environment == "production" else ("http", "https")
    if parts.scheme not in allowed_schemes:
        raise refuse(
            f"the scheme must be {' or '.join(allowed_schemes)}",
            "scheme",
            schemes=list(allowed_schemes),
        )
    if not parts.hostname:
        raise refuse("a host is required", "host_required")
    if parts.username or parts.password:
        raise refuse("credentials in the URL are not allowed", "credentials")
    return parts


def validate_endpoint_url(url: str, settings: Settings) -> str:
    """Return ``url`` if it may receive webhooks.

    A malformed URL is ``InvalidRequest`` (400, ``url_invalid``); a well-formed one into a
    refused network is ``DestinationRefused`` (422, ``url_destination_refused``); both name
    ``url``.
    """
    parts = _split(url, settings)
    reason = host_refusal(parts.hostname or "", allow_loopback=loopback_allowed(settings))
    if reason is not None:
        raise DestinationRefused(f"url: {reason}", param="url")
    return url


@dataclass(frozen=True)
class Destination:
    """Where one delivery connects: the checked ``address``, and the name for Host and SNI."""

    url: str
    scheme: str
    hostname: str
    address: str
    port: int

    @property
    def connect_url(self) -> str:
        """``url`` with its host replaced by the checked address (brackets for IPv6)."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if ":" in self.address else self.address
        return parts._replace(netloc=f"{host}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        default_port = 443 if self.scheme == "https" else 80
        name = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return name if self.port == default_port else f"{name}:{self.port}"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_destination(
    url: str, settings: Settings, resolver: Resolver = system_resolver
) -> Destination:
    """Resolve the endpoint's host once and check every address; raise ``DestinationRefused``.

    Every address must pass (a name answering one public and one private address is
    refused, since which one a client picks is not ours to decide); the first is used.
    """
    try:
        parts = _split(url, settings)
    except InvalidRequest as exc:  # e.g. an http endpoint once the platform is in production
        raise DestinationRefused(exc.message, param="url") from exc
    host = (parts.hostname or "").rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allow_loopback = loopback_allowed(settings)
    reason = host_refusal(host, allow_loopback=allow_loopback)
    if reason is not None:
        raise DestinationRefused(f"url: {reason}", param="url")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            found = await resolver(host, port)
        except OSError as exc:
            raise DestinationRefused(
                f"url: {host} does not resolve ({exc})", param="url", details={"host": host}
            ) from exc
        addresses = [ipaddress.ip_address(address.split("%")[0]) for address in found]
    if not addresses:
        raise DestinationRefused(
            f"url: {host} does not resolve", param="url", details={"host": host}
        )
    for address in addresses:
        reason = address_refusal(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise DestinationRefused(
                f"url: {host} resolves to {address}: {reason}",
                param="url",
                details={"host": host},
            )
    return Destination(url, parts.scheme, host, str(addresses[0]), port)
