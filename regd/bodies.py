"""Reading a body whole, but never more than a cap: for request bodies (``regd.http``) and
upstream responses (``regd.remotes``) alike."""

from __future__ import annotations

from aiohttp import StreamReader


class BodyTooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the body exceeds {limit} bytes")
        self.limit = limit


async def read_at_most(content: StreamReader, length: int | None, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to exceed ``limit`` bytes
    (``length``: its announced Content-Length, if any)."""
    if length is not None and length > limit:
        raise BodyTooLarge(limit)
    body = await content.read(limit + 1)
    while len(body) <= limit:
        more = await content.read(limit + 1 - len(body))
        if not more:
            break
        body += more
    if len(body) > limit:
        raise BodyTooLarge(limit)
    return body
