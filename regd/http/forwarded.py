"""``X-Forwarded-For``, ``-Proto`` and ``-Host``, believed only from ``trusted_proxies``.

Behind a TLS-terminating proxy, regd must put ``https://`` and the public host in token
realms and ``Location`` headers, and the audit log wants the client's address, not the
proxy's. A request straight from anyone else keeps what the socket says: a client cannot
forge its address or scheme by sending the headers itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _trusted(address: str | None, networks: tuple[Network, ...]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _client(forwarded_for: str, networks: tuple[Network, ...]) -> str | None:
    """The rightmost address of ``X-Forwarded-For`` that is not a trusted proxy."""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else None


def middleware(networks: tuple[Network, ...]) -> Middleware:
    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not networks or not _trusted(request.remote, networks):
            return await handler(request)
        changes: dict[str, str] = {}
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            changes["scheme"] = proto
        host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        if host:
            changes["host"] = host
        client = _client(request.headers.get("X-Forwarded-For", ""), networks)
        if client:
            changes["remote"] = client
        return await handler(request.clone(**changes) if changes else request)  # type: ignore[arg-type]

    return forwarded
