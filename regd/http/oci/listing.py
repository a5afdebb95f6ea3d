"""Listings: ``/v2/_catalog``, ``/v2/<name>/tags/list`` and ``/v2/<name>/referrers/<digest>``."""

from __future__ import annotations

import json

from aiohttp import web

from regd.auth.access import REPOSITORY, Resource
from regd.auth.capabilities import PULL
from regd.http.keys import ACCESS, principal
from regd.http.oci.common import name_of, next_link, page_limit, registry, upstream_target
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


async def _visible_repositories(
    request: web.Request, wanted: int | None, last: str | None
) -> list[str]:
    """Up to ``wanted`` names after ``last`` that the caller may pull, in order."""
    access, caller = request.app[ACCESS], principal(request)
    if await access.is_registry_admin(caller):
        return await registry(request).repositories.catalog(wanted, last)
    visible: list[str] = []
    batch = max(wanted or 0, 500)
    while wanted is None or len(visible) < wanted:
        names = await registry(request).repositories.catalog(batch, last)
        for name in names:
            if await access.authorize(caller, Resource(REPOSITORY, name), PULL):
                visible.append(name)
        if len(names) < batch:
            break
        last = names[-1]
    return visible if wanted is None else visible[:wanted]


async def catalog(request: web.Request) -> web.Response:
    """The repositories the caller may pull (all of them for registry admins)."""
    limit = page_limit(request)
    if limit == 0:
        return web.json_response({"repositories": []})
    names = await _visible_repositories(request, _fetch_limit(limit), request.query.get("last"))
    return _page(request, "repositories", names, limit, {})


async def _cache_name(request: web.Request, name: str) -> str:
    """Pulled-through content is listed under the name it was pulled by."""
    target = await upstream_target(request, name)
    return name if target is None else target.cache_name


async def tags(request: web.Request) -> web.Response:
    requested = name_of(request)
    name = await _cache_name(request, requested)
    limit = page_limit(request)
    last = request.query.get("last")
    reg = registry(request)
    if limit == 0:
        await reg.repositories.require(name)
        return web.json_response({"name": requested, "tags": []})
    if limit is None and not last:  # the whole list: the cached JSON array as it is
        array = await reg.tags.json_array(name)
        return _json_body(
            b'{"name": ' + json.dumps(requested).encode() + b', "tags": ' + array + b"}"
        )
    found = await reg.tags.list(name, _fetch_limit(limit), last)
    return _page(request, "tags", found, limit, {"name": requested})


def _json_body(body: bytes) -> web.Response:
    """Already serialised JSON, with the headers web.json_response would send."""
    return web.Response(body=body, content_type="application/json", charset="utf-8")


async def referrers(request: web.Request) -> web.Response:
    name = await _cache_name(request, name_of(request))
    subject = Digest.parse(request.match_info["digest"])
    artifact_type = request.query.get("artifactType") or None
    found = await registry(request).referrers.list(name, subject, artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    # Exactly the index media type: json_response would append "; charset=utf-8".
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found})
    return web.Response(body=body.encode(), content_type=OCI_INDEX, headers=headers)
