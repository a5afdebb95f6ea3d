"""``/v2/<name>/manifests/<reference>``: GET/HEAD, PUT and DELETE by tag or digest."""

from __future__ import annotations

from aiohttp import web

from regd.http.keys import PULLTHROUGH
from regd.http.limits import BodyTooLarge, read_at_most
from regd.http.oci.common import name_of, registry, upstream_target
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.manifest_format import MAX_MANIFEST_SIZE
from regd.registry.names import parse_reference


async def get(request: web.Request) -> web.Response:
    """GET and HEAD: the raw bytes as pushed, with their digest and media type."""
    name = name_of(request)
    try:
        reference = parse_reference(request.match_info["reference"])
    except RegistryError as error:
        if error.code is not ErrorCode.TAG_INVALID:
            raise
        # No manifest can have a name that is not a tag: it is simply not there.
        raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail=error.detail) from None
    headers: dict[str, str] = {}
    pullthrough = request.app[PULLTHROUGH]
    target = await upstream_target(request, name)
    if target is None:
        manifest = await registry(request).manifests.get(name, reference)
    else:
        cached = await pullthrough.manifest(target, reference)
        manifest = cached.manifest
        if cached.stale_reason:
            headers["Warning"] = '110 regd "Response is Stale: the upstream is unavailable"'
    headers.update(
        {
            "Content-Type": manifest.media_type,
            "Docker-Content-Digest": manifest.digest,
            "ETag": f'"{manifest.digest}"',
        }
    )
    return web.Response(body=manifest.content, headers=headers)


async def _read_manifest(request: web.Request) -> bytes:
    try:
        return await read_at_most(request, MAX_MANIFEST_SIZE)
    except BodyTooLarge:
        raise RegistryError(
            ErrorCode.MANIFEST_TOO_LARGE, f"manifest exceeds {MAX_MANIFEST_SIZE} bytes"
        ) from None


async def put(request: web.Request) -> web.Response:
    name = name_of(request)
    raw_reference = request.match_info["reference"]
    reference = parse_reference(raw_reference)
    content = await _read_manifest(request)
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip() or None
    stored = await registry(request).manifests.put(name, reference, content, content_type)
    headers = {
        "Location": f"/v2/{name}/manifests/{stored.digest}",
        "Docker-Content-Digest": stored.digest,
        "Content-Length": "0",
    }
    if stored.subject:
        headers["OCI-Subject"] = stored.subject
    return web.Response(status=201, headers=headers)


async def delete(request: web.Request) -> web.Response:
    name = name_of(request)
    reference = parse_reference(request.match_info["reference"])
    await registry(request).manifests.delete(name, reference)
    return web.Response(status=202, headers={"Content-Length": "0"})
