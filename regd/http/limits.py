"""How much of a request body regd reads into memory, per kind of route.

Blob uploads stream to disk and have no cap here; everything read whole is capped, and
a body past its cap is refused (413) before more of it is read.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from regd import bodies
from regd.bodies import BodyTooLarge

__all__ = ["API_BODY", "READ_WHOLE", "TOKEN_BODY", "BodyTooLarge", "read_at_most"]

#: ``/api/v1`` JSON bodies.
API_BODY: Final = 256 * 1024
#: ``POST /token`` form bodies (a username, a password or refresh token, scopes).
TOKEN_BODY: Final = 64 * 1024
#: What aiohttp itself reads whole (``request.read()``, ``request.post()``) on any route.
READ_WHOLE: Final = 1024 * 1024


async def read_at_most(request: web.Request, limit: int) -> bytes:
    """The whole request body, or BodyTooLarge past ``limit`` bytes (read no further)."""
    return await bodies.read_at_most(request.content, request.content_length, limit)
