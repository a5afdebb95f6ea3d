"""Opens each request's fresh reads of shared state (PostgreSQL; see :mod:`regd.db.fresh`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from regd.db.fresh import begin_request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def fresh_reads_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Note when the request arrived, and the repository it is about (``/v2/<name>/...``)."""
    name = request.match_info.get("name")
    begin_request(() if name is None else (name,))
    return await handler(request)
