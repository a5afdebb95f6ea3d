"""``/v2/<name>/blobs/<digest>``: HEAD, GET (with Range, by sendfile) and DELETE."""

from __future__ import annotations

from aiohttp import web

from regd.http.oci.common import name_of, registry
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.mediatypes import OCTET_STREAM
from regd.registry.names import Digest

_SENDFILE_CHUNK = 1 << 20


def _headers(digest: Digest) -> dict[str, str]:
    return {
        "Docker-Content-Digest": str(digest),
        "Content-Type": OCTET_STREAM,
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }


async def head(request: web.Request) -> web.Response:
    name = name_of(request)
    digest = Digest.parse(request.match_info["digest"])
    blob = await registry(request).blobs.stat(name, digest)
    headers = _headers(digest)
    headers["Content-Length"] = str(blob.size)
    return web.Response(status=200, headers=headers)


async def get(request: web.Request) -> web.StreamResponse:
    name = name_of(request)
    digest = Digest.parse(request.match_info["digest"])
    reg = registry(request)
    blob = await reg.blobs.stat(name, digest)
    if blob.path is None:
        return await _stream(request, digest, blob.size)
    if await reg.store.stat(digest.algorithm, digest.hex) is None:
        raise RegistryError(ErrorCode.BLOB_UNKNOWN, "blob content missing from storage")
    # FileResponse uses sendfile and implements Range, 206, Content-Range and 416.
    return web.FileResponse(blob.path, chunk_size=_SENDFILE_CHUNK, headers=_headers(digest))


async def _stream(request: web.Request, digest: Digest, size: int) -> web.StreamResponse:
    """For drivers without local files: stream the whole blob (Range handled by the driver)."""
    response = web.StreamResponse(headers=_headers(digest))
    response.content_length = size
    await response.prepare(request)
    async for chunk in registry(request).store.read(digest.algorithm, digest.hex):
        await response.write(chunk)
    await response.write_eof()
    return response


async def delete(request: web.Request) -> web.Response:
    name = name_of(request)
    digest = Digest.parse(request.match_info["digest"])
    await registry(request).blobs.unlink(name, digest)
    return web.Response(status=202, headers={"Content-Length": "0"})
