"""``/api/v1/repositories``: repositories, their tags and manifests.

A repository name may be nested (``acc-x/myapp/myapp``), so its sub-resources come after
a ``/-/`` separator: ``/api/v1/repositories/acc-x/myapp/myapp/-/tags/1.0``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from regd.auth.access import REPOSITORY, Resource
from regd.auth.capabilities import DELETE, PULL, PUSH
from regd.errors import ErrorKind, RequestError
from regd.http.api.auth import require
from regd.http.api.common import json_body, timestamp
from regd.http.api.routes import ApiRoute
from regd.http.keys import ACCESS, REGISTRY, principal
from regd.registry.inventory import ManifestInfo, RepositorySummary, TagInfo
from regd.registry.names import Digest, validate_name, validate_tag
from regd.services import repositories

BASE = "/api/v1/repositories"
#: A nested name with no ``-`` component: ``/-/`` starts a sub-resource, so a URL such as
#: ``.../x/-/access-rules`` is never also the repository ``x/-/access-rules`` (its ``Allow``
#: lists only what its own route answers).
_COMPONENT = r"(?:[^/-][^/]*|-[^/]+)"  # anything between slashes but "-" alone
_NAME = BASE + "/{name:" + _COMPONENT + "(?:/" + _COMPONENT + ")*}"


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


async def allowed_name(request: web.Request, action: str) -> str:
    """The repository name of the path, once the caller may ``action`` on it."""
    name = validate_name(request.match_info["name"])
    await require(request, Resource(REPOSITORY, name), action)
    return name


async def list_repositories(request: web.Request) -> web.Response:
    found = await request.app[REGISTRY].inventory.list_repositories(request.query.get("prefix"))
    access, caller = request.app[ACCESS], principal(request)
    visible = [
        s for s in found if await access.authorize(caller, Resource(REPOSITORY, s.name), PULL)
    ]
    return web.json_response([_repository(summary) for summary in visible])


async def create_repository(request: web.Request) -> web.Response:
    """Create a repository namespace; a user creating it becomes its owner."""
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str):
        raise RequestError(ErrorKind.INVALID, "'name' is required")
    validate_name(name)
    caller = await require(request, Resource(REPOSITORY, name), PUSH)
    summary = await repositories.create_repository(
        request.app[REGISTRY],
        request.app[ACCESS].grants,
        name,
        owner=caller.id if caller.kind == "user" else None,
    )
    return web.json_response(_repository(summary), status=201)


async def show_repository(request: web.Request) -> web.Response:
    summary = await request.app[REGISTRY].inventory.repository(await allowed_name(request, PULL))
    return web.json_response(_repository(summary))


async def delete_repository(request: web.Request) -> web.Response:
    name = await allowed_name(request, DELETE)
    await repositories.delete_repository(request.app[REGISTRY], request.app[ACCESS].grants, name)
    return web.Response(status=204)


async def list_tags(request: web.Request) -> web.Response:
    found = await request.app[REGISTRY].inventory.tags(await allowed_name(request, PULL))
    return web.json_response([_tag(info) for info in found])


async def show_tag(request: web.Request) -> web.Response:
    name = await allowed_name(request, PULL)
    tag = validate_tag(request.match_info["tag"])
    return web.json_response(_tag(await request.app[REGISTRY].inventory.tag(name, tag)))


async def delete_tag(request: web.Request) -> web.Response:
    name = await allowed_name(request, DELETE)
    await request.app[REGISTRY].manifests.delete(name, validate_tag(request.match_info["tag"]))
    return web.Response(status=204)


async def delete_manifest(request: web.Request) -> web.Response:
    """A manifest and every tag pointing at it (as ``DELETE /v2/{name}/manifests/{digest}``)."""
    name = await allowed_name(request, DELETE)
    digest = Digest.parse(request.match_info["digest"])
    await request.app[REGISTRY].manifests.delete(name, digest)
    return web.Response(status=204)


async def list_manifests(request: web.Request) -> web.Response:
    found = await request.app[REGISTRY].inventory.manifests(await allowed_name(request, PULL))
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
        "POST",
        BASE,
        create_repository,
        "Create a repository (needs push there; the creating user owns it)",
        "repositories",
        {
            201: "created",
            400: "invalid name",
            409: "exists",
            401: "authentication required",
            403: "not allowed",
        },
        _REPOSITORY_SCHEMA,
        {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
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
        "DELETE",
        _NAME + "/-/manifests/{digest}",
        delete_manifest,
        "Delete a manifest and the tags pointing at it",
        "repositories",
        {204: "deleted", **_NOT_FOUND},
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
