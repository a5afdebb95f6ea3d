"""How much of a request body regd reads into memory, per kind of route.

Blob uploads stream to disk and have no cap here; everything read whole is capped, and
a body past its cap is refused (413) before more of it is read.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

#: ``/api/v1`` JSON bodies.
API_BODY: Final = 256 * 1024
#: ``POST /token`` form bodies (a username, a password or refresh token, scopes).
TOKEN_BODY: Final = 64 * 1024
#: What aiohttp itself reads whole (``request.read()``, ``request.post()``) on any route.
READ_WHOLE: Final = 1024 * 1024


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the body exceeds {limit} bytes")
        self.limit = limit


async def read_at_most(request: web.Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to exceed ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(limit)
    content = await request.content.read(limit + 1)
    while len(content) <= limit:
        more = await request.content.read(limit + 1 - len(content))
        if not more:
            break
        content += more
    if len(content) > limit:
        raise BodyTooLarge(limit)
    return content
