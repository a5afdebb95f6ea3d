"""``/api/v1/image-registry/remote-registries``, ``/api/v1/image-registry/settings`` and
``/api/v1/image-registry/cache`` (what the pull-through cache holds, against its cap).

Registry admins read and write (deny by default: addresses, override addresses and
which secret holds each credential are a map for an attacker). Credentials name Strongbox
secrets (checked at write time), never hold values.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from regd.errors import ErrorKind, RequestError
from regd.http.api.auth import require_admin
from regd.http.api.common import json_body, timestamp
from regd.http.api.routes import DENIED, ApiRoute
from regd.http.keys import PULLTHROUGH, REMOTES
from regd.remotes.config import RemoteRegistry

BASE = "/api/v1/image-registry/remote-registries"
SETTINGS = "/api/v1/image-registry/settings"
CACHE = "/api/v1/image-registry/cache"


def _remote(remote: RemoteRegistry) -> dict[str, Any]:
    body: dict[str, Any] = {"address": remote.address, "name": remote.name}
    if remote.override_address:
        body["override-address"] = remote.override_address
    if remote.ca_cert:
        body["ca-cert"] = remote.ca_cert
    body["credentials"] = [
        {"repository": c.repository, "vault": c.vault, "secret": c.secret}
        for c in remote.credentials
    ]
    body["created-at"] = timestamp(remote.created_at)
    return body


async def list_remotes(request: web.Request) -> web.Response:
    await require_admin(request)
    return web.json_response([_remote(r) for r in await request.app[REMOTES].all()])


async def create_remote(request: web.Request) -> web.Response:
    await require_admin(request)
    remote = await request.app[REMOTES].put(await json_body(request), create_only=True)
    return web.json_response(_remote(remote), status=201)


async def show_remote(request: web.Request) -> web.Response:
    await require_admin(request)
    return web.json_response(_remote(await request.app[REMOTES].get(request.match_info["address"])))


async def replace_remote(request: web.Request) -> web.Response:
    """PUT: create or replace (supctl's ``replace`` upserts)."""
    await require_admin(request)
    body = await json_body(request)
    address = request.match_info["address"]
    if body.setdefault("address", address) != address:
        raise RequestError(ErrorKind.INVALID, "the address in the body differs from the path")
    return web.json_response(_remote(await request.app[REMOTES].put(body, create_only=False)))


async def delete_remote(request: web.Request) -> web.Response:
    await require_admin(request)
    await request.app[REMOTES].delete(request.match_info["address"])
    return web.Response(status=204)


async def show_settings(request: web.Request) -> web.Response:
    await require_admin(request)
    return web.json_response(await request.app[REMOTES].settings())


async def merge_settings(request: web.Request) -> web.Response:
    """POST (supctl ``create``) and PATCH (``merge``): change the keys given."""
    await require_admin(request)
    settings = await request.app[REMOTES].update_settings(await json_body(request), replace=False)
    return web.json_response(settings)


async def replace_settings(request: web.Request) -> web.Response:
    """PUT (``replace``): keys not given go back to their defaults."""
    await require_admin(request)
    settings = await request.app[REMOTES].update_settings(await json_body(request), replace=True)
    return web.json_response(settings)


async def show_cache(request: web.Request) -> web.Response:
    await require_admin(request)
    usage = await request.app[PULLTHROUGH].cache.usage()
    return web.json_response({"size": usage.size, "cap": usage.cap, "blobs": usage.blobs})


_CREDENTIALS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "repository": {"type": "string", "description": "a glob over upstream paths"},
            "vault": {"type": "string"},
            "secret": {"type": "string"},
        },
        "required": ["vault", "secret"],
    },
}
_REMOTE = {
    "type": "object",
    "properties": {
        "address": {"type": "string"},
        "name": {"type": "string", "description": "the repository-name prefix (alias)"},
        "override-address": {"type": "string"},
        "ca-cert": {"type": "string"},
        "credentials": _CREDENTIALS,
        "created-at": {"type": "string"},
    },
    "required": ["address"],
}
#: PUT names the address in its path: the body need not repeat it.
_REMOTE_PUT = {key: value for key, value in _REMOTE.items() if key != "required"}
_SETTINGS = {
    "type": "object",
    "properties": {
        "default-remote-registry": {"type": ["string", "null"]},
        "tag-ttl": {"type": "integer", "description": "seconds before a cached tag is revalidated"},
        "cache-size-cap": {"type": ["integer", "null"]},
    },
}
_CACHE = {
    "type": "object",
    "properties": {
        "size": {
            "type": "integer",
            "description": "bytes of the blobs only pull-through caches hold (each counted once)",
        },
        "cap": {"type": ["integer", "null"], "description": "cache-size-cap (null: none)"},
        "blobs": {"type": "integer", "description": "how many such blobs"},
    },
    "required": ["size", "cap", "blobs"],
}
_NOT_FOUND = {404: "no such remote registry", **DENIED}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        BASE,
        list_remotes,
        "List remote registries",
        "image-registry",
        {200: "remote registries", **DENIED},
        {"type": "array", "items": _REMOTE},
    ),
    ApiRoute(
        "POST",
        BASE,
        create_remote,
        "Add a remote registry",
        "image-registry",
        {201: "created", 400: "invalid (or a missing vault/secret)", 409: "exists", **DENIED},
        _REMOTE,
        _REMOTE,
    ),
    ApiRoute(
        "GET",
        BASE + "/{address}",
        show_remote,
        "Show a remote registry",
        "image-registry",
        {200: "the remote registry", **_NOT_FOUND},
        _REMOTE,
    ),
    ApiRoute(
        "PUT",
        BASE + "/{address}",
        replace_remote,
        "Create or replace a remote registry",
        "image-registry",
        {200: "stored", 400: "invalid", **DENIED},
        _REMOTE,
        _REMOTE_PUT,
    ),
    ApiRoute(
        "DELETE",
        BASE + "/{address}",
        delete_remote,
        "Remove a remote registry",
        "image-registry",
        {204: "removed", **_NOT_FOUND},
    ),
    ApiRoute(
        "GET",
        SETTINGS,
        show_settings,
        "Show the image-registry settings",
        "image-registry",
        {200: "the settings", **DENIED},
        _SETTINGS,
    ),
    ApiRoute(
        "POST",
        SETTINGS,
        merge_settings,
        "Set image-registry settings (supctl create)",
        "image-registry",
        {200: "the settings", 400: "invalid", **DENIED},
        _SETTINGS,
        _SETTINGS,
    ),
    ApiRoute(
        "PATCH",
        SETTINGS,
        merge_settings,
        "Merge image-registry settings",
        "image-registry",
        {200: "the settings", 400: "invalid", **DENIED},
        _SETTINGS,
        _SETTINGS,
    ),
    ApiRoute(
        "PUT",
        SETTINGS,
        replace_settings,
        "Replace image-registry settings",
        "image-registry",
        {200: "the settings", 400: "invalid", **DENIED},
        _SETTINGS,
        _SETTINGS,
    ),
    ApiRoute(
        "GET",
        CACHE,
        show_cache,
        "Show the pull-through cache's size against its cap",
        "image-registry",
        {200: "the cache's usage", **DENIED},
        _CACHE,
    ),
)
