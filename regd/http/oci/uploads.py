"""`/v2/<name>/blobs/uploads/`: start (monolithic, session, mount), PATCH, PUT, status, cancel."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from aiohttp import web

from regd.auth.access import REPOSITORY, Resource
from regd.auth.capabilities import PULL
from regd.http.keys import ACCESS, principal
from regd.http.metrics import METRICS
from regd.http.oci.common import body_chunks, digest_param, name_of, registry
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.names import Digest, validate_name
from regd.registry.uploads import UploadOutOfOrder

_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?")


def _session_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    """Where an upload session is and how much it holds: the one place they are built."""
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": upload_id,
    }


def _upload_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    return {**_session_headers(name, upload_id, size), "Content-Length": "0"}


def _out_of_order(name: str, error: UploadOutOfOrder) -> RegistryError:
    """416 with where the upload stands, so the client can resume there."""
    return RegistryError(
        error.code, error.message, headers=_session_headers(name, error.upload_id, error.size)
    )


async def _counted(request: web.Request) -> AsyncIterator[bytes]:
    """The request body (``body_chunks``), its size added to the metrics once it ends."""
    received = 0
    try:
        async for chunk in body_chunks(request):
            received += len(chunk)
            yield chunk
    finally:
        request.app[METRICS].upload_bytes_received.inc(received)


def _created(name: str, digest: Digest) -> web.Response:
    return web.Response(
        status=201,
        headers={
            "Location": f"/v2/{name}/blobs/{digest}",
            "Docker-Content-Digest": str(digest),
            "Content-Length": "0",
        },
    )


async def start(request: web.Request) -> web.Response:
    """POST: a monolithic upload (``?digest=``), a mount (``?mount=&from=``) or a session."""
    name = name_of(request)
    reg = registry(request)
    query = request.query
    if "mount" in query:
        digest = digest_param(query["mount"])
        source = query.get("from")
        # Without from: any repository holding the blob that the caller may pull
        # (automatic cross-mount).
        sources = [validate_name(source)] if source else await reg.blobs.holders(digest)
        for candidate in sources:
            if candidate != name and await _may_pull(request, candidate):
                if await reg.blobs.mount(name, digest, candidate) is not None:
                    return _created(name, digest)
                break
        # Not mountable: fall back to a new session, as the spec says.
    elif "digest" in query:
        digest = digest_param(query["digest"])
        await reg.uploads.upload(name, digest, _counted(request))
        return _created(name, digest)
    upload_id = await reg.uploads.start(name)
    return web.Response(status=202, headers=_upload_headers(name, upload_id, 0))


async def _may_pull(request: web.Request, source: str) -> bool:
    """A mount reads the source repository: the caller must be allowed to pull it."""
    return await request.app[ACCESS].authorize(
        principal(request), Resource(REPOSITORY, source), PULL
    )


def _chunk_range(request: web.Request) -> tuple[int | None, int | None]:
    """Where the chunk goes (Content-Range's start) and, for a body of unannounced size
    (chunked), how long it must be. The header is checked first: well formed, and as long
    as the body when Content-Length gives it (nothing is written otherwise)."""
    raw = request.headers.get("Content-Range")
    if raw is None:
        return None, None
    match = _CONTENT_RANGE.fullmatch(raw.strip())
    if match is None or int(match.group(2)) < int(match.group(1)):
        raise RegistryError(
            ErrorCode.RANGE_INVALID, "malformed Content-Range", {"Content-Range": raw[:200]}
        )
    start, end = int(match.group(1)), int(match.group(2))
    length = request.content_length
    if length is not None and length != end - start + 1:
        raise RegistryError(
            ErrorCode.RANGE_INVALID,
            f"Content-Range {start}-{end} is {end - start + 1} bytes, the body {length}",
            {"Content-Range": raw[:200]},
        )
    return start, (end - start + 1 if length is None else None)


async def patch(request: web.Request) -> web.Response:
    """PATCH: append a chunk (in order: Content-Range must start at the current size)."""
    name = name_of(request)
    upload_id = request.match_info["uuid"]
    start, length = _chunk_range(request)
    try:
        size = await registry(request).uploads.append(
            name, upload_id, _counted(request), start, length
        )
    except UploadOutOfOrder as error:
        raise _out_of_order(name, error) from None
    return web.Response(status=202, headers=_upload_headers(name, upload_id, size))


async def finish(request: web.Request) -> web.Response:
    """PUT ``?digest=``: the last chunk (optional), verify, commit. A Content-Range that
    does not start at the uploaded size is 416, the upload left as it was."""
    name = name_of(request)
    upload_id = request.match_info["uuid"]
    digest = digest_param(request.query.get("digest"))
    has_body = (
        request.content_length not in (None, 0)
        or request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    )
    body = _counted(request) if has_body else None
    start, length = _chunk_range(request)
    try:
        await registry(request).uploads.finish(name, upload_id, digest, body, start, length)
    except UploadOutOfOrder as error:
        raise _out_of_order(name, error) from None
    return _created(name, digest)


async def status(request: web.Request) -> web.Response:
    name = name_of(request)
    upload_id = request.match_info["uuid"]
    size = await registry(request).uploads.size(name, upload_id)
    return web.Response(status=204, headers=_upload_headers(name, upload_id, size))


async def cancel(request: web.Request) -> web.Response:
    name = name_of(request)
    upload_id = request.match_info["uuid"]
    await registry(request).uploads.cancel(name, upload_id)
    return web.Response(status=204)
