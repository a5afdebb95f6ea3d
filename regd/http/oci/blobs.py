"""``/v2/<name>/blobs/<digest>``: HEAD, GET (with Range, by sendfile) and DELETE."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from regd.http.keys import PULLTHROUGH, SETTINGS
from regd.http.metrics import METRICS, CountedFileResponse
from regd.http.oci.common import name_of, registry, upstream_target
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.mediatypes import OCTET_STREAM
from regd.registry.names import Digest
from regd.remotes.config import Target
from regd.storage import ObjectStore

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
        store = reg.store
        if request.app[SETTINGS].storage_redirect and isinstance(store, ObjectStore):
            location = await store.redirect_url(digest.algorithm, digest.hex)
            headers = {"Docker-Content-Digest": str(digest), "Location": location}
            return web.Response(status=307, headers=headers)
        return await _stream_stored(request, digest, blob.size)
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


def _byte_range(request: web.Request, size: int) -> tuple[int, int] | None:
    """``(offset, length)`` of a single satisfiable ``Range: bytes=`` (None: whole blob);
    RANGE_INVALID when it cannot be served."""
    try:
        requested = request.http_range
    except ValueError:
        return None  # malformed or several ranges: the whole blob, as RFC 9110 allows
    start, stop = requested.start, requested.stop
    if start is None and stop is None:
        return None
    if start is None or start < 0:  # a suffix: the last N bytes
        suffix = -(start or 0) if start is not None else size - (stop or 0)
        start, stop = max(size - suffix, 0), size
    stop = size if stop is None else min(stop, size)
    if start >= size or start >= stop:
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            f"requested range not satisfiable: the blob has {size} bytes",
            {"Range": request.headers["Range"][:200]},
            {"Content-Range": f"bytes */{size}"},
        )
    return start, stop - start


async def _stream_stored(request: web.Request, digest: Digest, size: int) -> web.StreamResponse:
    """A blob from a driver without local files (object storage), with Range."""
    store = registry(request).store
    _check_range(request, size)
    span = _byte_range(request, size)
    offset, length = (0, size) if span is None else span
    chunks = aiter(store.read(digest.algorithm, digest.hex, offset, length))
    # The first chunk before the status line: a store that fails at once gets an error answer.
    try:
        first = await anext(chunks, b"")
    except FileNotFoundError:
        raise RegistryError(ErrorCode.BLOB_UNKNOWN, "blob content missing from storage") from None
    body = _prepend(first, chunks)
    if span is None:
        return await _stream(request, digest, size, body)
    content_range = f"bytes {offset}-{offset + length - 1}/{size}"
    return await _stream(request, digest, length, body, status=206, content_range=content_range)


async def _stream(
    request: web.Request,
    digest: Digest,
    size: int,
    chunks: AsyncIterator[bytes],
    *,
    status: int = 200,
    content_range: str | None = None,
) -> web.StreamResponse:
    """Bytes from an iterator (remote drivers, pull-through): ``size`` of them, the whole
    blob unless ``content_range`` says which part (206)."""
    headers = _headers(digest)
    if content_range is not None:
        headers["Content-Range"] = content_range
    response = web.StreamResponse(status=status, headers=headers)
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


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


async def delete(request: web.Request) -> web.Response:
    name = name_of(request)
    digest = Digest.parse(request.match_info["digest"])
    await registry(request).blobs.unlink(name, digest)
    return web.Response(status=202, headers={"Content-Length": "0"})
