"""Helpers shared by the /v2/ handlers: path parameters, bodies, pagination."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web

from regd.http.authn import public_url
from regd.http.keys import PULLTHROUGH, REGISTRY
from regd.registry import Registry
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.names import Digest, validate_name
from regd.remotes.config import Target

API_VERSION_HEADER: Final = "Docker-Distribution-API-Version"
#: Bytes handed to the hasher and the store at a time.
RECEIVE_CHUNK: Final = 1 << 20
#: The most entries one page of tags or catalog holds.
MAX_PAGE: Final = 10_000


def registry(request: web.Request) -> Registry:
    return request.app[REGISTRY]


def name_of(request: web.Request) -> str:
    return validate_name(request.match_info["name"])


async def upstream_target(request: web.Request, name: str) -> Target | None:
    """Where a pulled name's content comes from (None: it is local). containerd's
    ``?ns=REGISTRY`` on a mirror request names the registry, unless that is this one."""
    ns = request.query.get("ns") or None
    if ns is not None and ns in (request.host, urlsplit(public_url(request)).netloc):
        ns = None
    return await request.app[PULLTHROUGH].target(name, ns)


def digest_param(value: str | None) -> Digest:
    if not value:
        raise RegistryError(ErrorCode.DIGEST_INVALID, "digest parameter missing")
    return Digest.parse(value)


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request body in chunks of RECEIVE_CHUNK bytes (the last may be shorter)."""
    content = request.content
    while True:
        try:
            chunk = await content.readexactly(RECEIVE_CHUNK)
        except asyncio.IncompleteReadError as end:
            if end.partial:
                yield end.partial
            return
        yield chunk


def page_limit(request: web.Request) -> int | None:
    """The ``n`` query parameter (None when absent), capped at MAX_PAGE."""
    raw = request.query.get("n")
    if raw is None or raw == "":
        return None
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if limit < 0:
        raise RegistryError(ErrorCode.PAGINATION_INVALID, detail={"n": raw})
    return min(limit, MAX_PAGE)


def next_link(path: str, limit: int, last: str) -> str:
    return f'<{path}?n={limit}&last={last}>; rel="next"'
