"""``/v2/<name>/blobs/<digest>``: HEAD, GET (with Range, by sendfile) and DELETE."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from regd.http.keys import PULLTHROUGH
from regd.http.metrics import METRICS, CountedFileResponse
from regd.http.oci.common import name_of, registry, upstream_target
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.mediatypes import OCTET_STREAM
from regd.registry.names import Digest
from regd.remotes.config import Target

log = logging.getLogger(__name__)
_SENDFILE_CHUNK = 1 << 20


def _headers(digest: Digest) -> dict[str, str]:
    return {
        "Docker-Content-Digest": str(digest),
        "Content-Type": OCTET_STREAM,
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }


async def _local_name(request: web.Request, name: str) -> tuple[str, Target | None]:
    """Where the blob lives locally: the name itself, or its pull-through cache."""
    target = await upstream_target(request, name)
    return (name if target is None else target.cache_name), target


@asynccontextmanager
async def _pushable(target: Target, digest: Digest) -> AsyncIterator[None]:
    """A push never depends on an upstream: for a name reached only through
    ``default-remote-registry`` (nothing local under it yet), an upstream that is
    unreachable, wants credentials or fails is a plain 404, so the client uploads the blob
    (docs/api.md, "Pushes and the default remote")."""
    try:
        yield
    except RegistryError as error:
        if not target.fallback or error.code is ErrorCode.BLOB_UNKNOWN:
            raise
        log.info("blob %s of %s: %s; answered 404", digest, target.upstream_path, error.message)
        raise RegistryError(
            ErrorCode.BLOB_UNKNOWN, "not here, and the default remote registry did not answer"
        ) from None


async def head(request: web.Request) -> web.Response:
    name = name_of(request)
    digest = Digest.parse(request.match_info["digest"])
    local, target = await _local_name(request, name)
    try:
        size = (await registry(request).blobs.stat(local, digest)).size
    except RegistryError:
        if target is None:
            raise
        async with _pushable(target, digest):
            size = await request.app[PULLTHROUGH].blob_size(target, digest)
    else:
        if target is not None:
            request.app[PULLTHROUGH].served_cached_blob(local, digest)
    headers = _headers(digest)
    headers["Content-Length"] = str(size)
    return web.Response(status=200, headers=headers)


async def get(request: web.Request) -> web.StreamResponse:
    name = name_of(request)
    digest = Digest.parse(request.match_info["digest"])
    reg = registry(request)
    local, target = await _local_name(request, name)
    try:
        blob = await reg.blobs.stat(local, digest)
        if blob.path is not None and await reg.store.stat(digest.algorithm, digest.hex) is None:
            raise RegistryError(ErrorCode.BLOB_UNKNOWN, "blob content missing from storage")
    except RegistryError:
        if target is None:
            raise
        # Not cached, or its bytes were evicted or collected: from the upstream again.
        async with _pushable(target, digest):
            size, chunks = await request.app[PULLTHROUGH].open_blob(target, digest)
        return await _stream(request, digest, size, chunks)
    if target is not None:
        request.app[PULLTHROUGH].served_cached_blob(local, digest)
    if blob.path is None:
        return await _stream(
            request, digest, blob.size, reg.store.read(digest.algorithm, digest.hex)
        )
    # FileResponse uses sendfile and implements Range, 206 and Content-Range; this one
    # counts the bytes it sends. A 416 is answered here, with the OCI error body.
    _check_range(request, blob.size)
    return CountedFileResponse(blob.path, chunk_size=_SENDFILE_CHUNK, headers=_headers(digest))


def _check_range(request: web.Request, size: int) -> None:
    """RANGE_INVALID (416, ``Content-Range: bytes */SIZE``) for a Range nothing of the blob
    satisfies, as FileResponse would judge it (it would answer 416 with an empty body)."""
    if "Range" not in request.headers or request.if_range is not None:
        return  # (If-Range: FileResponse decides between 206 and a whole 200)
    unsatisfiable = {"Content-Range": f"bytes */{size}"}
    try:
        requested = request.http_range
    except ValueError:
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            "malformed Range",
            {"Range": request.headers["Range"][:200]},
            unsatisfiable,
        ) from None
    start = requested.start
    if start is None:
        return
    if start < 0 and requested.stop is None:  # the last -start bytes
        start = max(start + size, 0)
    if start >= size:
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            f"requested range not satisfiable: the blob has {size} bytes",
            {"Range": request.headers["Range"][:200]},
            unsatisfiable,
        )


async def _stream(
    request: web.Request, digest: Digest, size: int, chunks: AsyncIterator[bytes]
) -> web.StreamResponse:
    """A whole blob from an iterator (remote drivers, pull-through); Range is not applied."""
    response = web.StreamResponse(headers=_headers(digest))
    response.content_length = size
    await response.prepare(request)
    sent = 0
    try:
        async for chunk in chunks:
            await response.write(chunk)
            sent += len(chunk)
    except Exception as error:
        # The status line is out: no error response may follow (the client would read its
        # first bytes as the end of this body). Cutting the connection leaves the body short.
        transport = request.transport
        if transport is not None and not transport.is_closing():
            log.warning("GET %s: body cut short: %s", request.path, error)
            transport.close()
        return response
    finally:
        request.app[METRICS].blob_bytes_sent.inc(sent)
    await response.write_eof()
    return response


async def delete(request: web.Request) -> web.Response:
    name = name_of(request)
    digest = Digest.parse(request.match_info["digest"])
    await registry(request).blobs.unlink(name, digest)
    return web.Response(status=202, headers={"Content-Length": "0"})
