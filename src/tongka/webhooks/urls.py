"""Which webhook URLs are allowed: no requests into the platform's own network (SSRF).

In production an endpoint must be ``https`` and its host must not be, or resolve to, a
loopback, private, link-local or otherwise non-public address; the check runs when the
endpoint is registered and again before every delivery (DNS may change). Development and
test allow ``http`` and local hosts so a receiver on the same machine can be used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from tongka.errors import InvalidRequest

MAX_URL_LENGTH = 2048
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def validate_endpoint_url(url: str, *, production: bool) -> str:
    """Return ``url`` if it may receive webhooks; raise ``InvalidRequest`` (param ``url``)."""

    def refuse(reason: str) -> InvalidRequest:
        return InvalidRequest(f"url: {reason}", code="url_invalid", param="url")

    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise refuse("not a valid URL") from exc
    allowed_schemes = ("https",) if production else ("http", "https")
    if parts.scheme not in allowed_schemes:
        raise refuse(f"the scheme must be {' or '.join(allowed_schemes)}")
    if not parts.hostname:
        raise refuse("a host is required")
    if parts.username or parts.password:
        raise refuse("credentials in the URL are not allowed")
    if production and not host_may_be_public(parts.hostname):
        raise refuse("local and private network addresses are not allowed")
    return url


def host_may_be_public(host: str) -> bool:
    """False for local names and non-public IP literals; names are checked when resolved."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return "." in host  # a bare name resolves inside the local network


async def resolves_to_public(host: str, port: int) -> bool:
    """True if every address ``host`` resolves to is public (checked before each delivery)."""
    if not host_may_be_public(host):
        return False
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_global for a in addresses)
