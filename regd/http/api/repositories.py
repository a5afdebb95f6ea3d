"""``/api/v1/repositories``: repositories, their tags and manifests.

A repository name may be nested (``acc-x/myapp/myapp``), so its sub-resources come after
a ``/-/`` separator: ``/api/v1/repositories/acc-x/myapp/myapp/-/tags/1.0``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from regd.http.api.routes import ApiRoute
from regd.http.keys import REGISTRY
from regd.registry.inventory import ManifestInfo, RepositorySummary, TagInfo
from regd.registry.names import validate_name, validate_tag

BASE = "/api/v1/repositories"
_NAME = BASE + "/{name:.+}"


def timestamp(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _repository(summary: RepositorySummary) -> dict[str, Any]:
    return {
        "name": summary.name,
        "created-at": timestamp(summary.created_at),
        "tag-count": summary.tag_count,
        "manifest-count": summary.manifest_count,
    }


def _tag(info: TagInfo) -> dict[str, Any]:
    return {"name": info.name, "digest": info.digest, "updated-at": timestamp(info.updated_at)}


def _manifest(info: ManifestInfo) -> dict[str, Any]:
    return {
        "digest": info.digest,
        "media-type": info.media_type,
        "artifact-type": info.artifact_type,
        "size": info.size,
        "subject": info.subject,
        "tags": info.tags,
        "created-at": timestamp(info.created_at),
    }


def _name(request: web.Request) -> str:
    return validate_name(request.match_info["name"])


async def list_repositories(request: web.Request) -> web.Response:
    found = await request.app[REGISTRY].inventory.list_repositories(request.query.get("prefix"))
    return web.json_response([_repository(summary) for summary in found])


async def show_repository(request: web.Request) -> web.Response:
    summary = await request.app[REGISTRY].inventory.repository(_name(request))
    return web.json_response(_repository(summary))


async def delete_repository(request: web.Request) -> web.Response:
    await request.app[REGISTRY].inventory.delete_repository(_name(request))
    return web.Response(status=204)


async def list_tags(request: web.Request) -> web.Response:
    found = await request.app[REGISTRY].inventory.tags(_name(request))
    return web.json_response([_tag(info) for info in found])


async def show_tag(request: web.Request) -> web.Response:
    tag = validate_tag(request.match_info["tag"])
    return web.json_response(_tag(await request.app[REGISTRY].inventory.tag(_name(request), tag)))


async def delete_tag(request: web.Request) -> web.Response:
    tag = validate_tag(request.match_info["tag"])
    await request.app[REGISTRY].manifests.delete(_name(request), tag)
    return web.Response(status=204)


async def list_manifests(request: web.Request) -> web.Response:
    found = await request.app[REGISTRY].inventory.manifests(_name(request))
    return web.json_response([_manifest(info) for info in found])


_REPOSITORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "created-at": {"type": "string", "format": "date-time"},
        "tag-count": {"type": "integer"},
        "manifest-count": {"type": "integer"},
    },
}
_TAG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "digest": {"type": "string"},
        "updated-at": {"type": "string", "format": "date-time"},
    },
}
_MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "digest": {"type": "string"},
        "media-type": {"type": "string"},
        "artifact-type": {"type": ["string", "null"]},
        "size": {"type": "integer"},
        "subject": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "created-at": {"type": "string", "format": "date-time"},
    },
}
_NOT_FOUND = {404: "no such repository", 400: "invalid name"}

# Sub-resources first: the nested-name pattern would swallow them otherwise.
ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        BASE,
        list_repositories,
        "List repositories",
        "repositories",
        {200: "repositories, sorted by name"},
        {"type": "array", "items": _REPOSITORY_SCHEMA},
        query=(("prefix", "only names starting with this"),),
    ),
    ApiRoute(
        "GET",
        _NAME + "/-/tags",
        list_tags,
        "List a repository's tags",
        "repositories",
        {200: "tags, sorted by name", **_NOT_FOUND},
        {"type": "array", "items": _TAG_SCHEMA},
    ),
    ApiRoute(
        "GET",
        _NAME + "/-/tags/{tag}",
        show_tag,
        "Show a tag",
        "repositories",
        {200: "the tag", **_NOT_FOUND},
        _TAG_SCHEMA,
    ),
    ApiRoute(
        "DELETE",
        _NAME + "/-/tags/{tag}",
        delete_tag,
        "Delete a tag",
        "repositories",
        {204: "deleted", **_NOT_FOUND},
    ),
    ApiRoute(
        "GET",
        _NAME + "/-/manifests",
        list_manifests,
        "List a repository's manifests",
        "repositories",
        {200: "manifests, oldest first", **_NOT_FOUND},
        {"type": "array", "items": _MANIFEST_SCHEMA},
    ),
    ApiRoute(
        "GET",
        _NAME,
        show_repository,
        "Show a repository",
        "repositories",
        {200: "the repository", **_NOT_FOUND},
        _REPOSITORY_SCHEMA,
    ),
    ApiRoute(
        "DELETE",
        _NAME,
        delete_repository,
        "Delete a repository, its tags and manifests",
        "repositories",
        {204: "deleted", **_NOT_FOUND},
    ),
)
