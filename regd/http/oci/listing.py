"""Listings: ``/v2/_catalog``, ``/v2/<name>/tags/list`` and ``/v2/<name>/referrers/<digest>``."""

from __future__ import annotations

from aiohttp import web

from regd.http.oci.common import name_of, next_link, page_limit, registry
from regd.registry.mediatypes import OCI_INDEX
from regd.registry.names import Digest


def _page(
    request: web.Request, key: str, items: list[str], limit: int | None, extra: dict[str, str]
) -> web.Response:
    headers: dict[str, str] = {}
    if limit is not None and len(items) > limit:
        items = items[:limit]
        headers["Link"] = next_link(request.path, limit, items[-1])
    return web.json_response({**extra, key: items}, headers=headers)


def _fetch_limit(limit: int | None) -> int | None:
    """Ask for one more than a page, to know whether there is a next one."""
    return None if limit is None else limit + 1


async def catalog(request: web.Request) -> web.Response:
    limit = page_limit(request)
    if limit == 0:
        return web.json_response({"repositories": []})
    names = await registry(request).repositories.catalog(
        _fetch_limit(limit), request.query.get("last")
    )
    return _page(request, "repositories", names, limit, {})


async def tags(request: web.Request) -> web.Response:
    name = name_of(request)
    limit = page_limit(request)
    reg = registry(request)
    if limit == 0:
        await reg.repositories.require(name)
        return web.json_response({"name": name, "tags": []})
    found = await reg.tags.list(name, _fetch_limit(limit), request.query.get("last"))
    return _page(request, "tags", found, limit, {"name": name})


async def referrers(request: web.Request) -> web.Response:
    name = name_of(request)
    subject = Digest.parse(request.match_info["digest"])
    artifact_type = request.query.get("artifactType") or None
    found = await registry(request).referrers.list(name, subject, artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    return web.json_response(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found},
        content_type=OCI_INDEX,
        headers=headers,
    )
