"""The notification middleware: registry events from the requests that cause them.

A request that succeeded on one of ``ACTIONS``' routes becomes one event in distribution's
notification format (``events[]`` entries: id, timestamp, action, target, request, actor,
source) handed to the :class:`~regd.notify.Notifier`, which only queues it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from regd.http.audit import request_id
from regd.http.authn import public_url
from regd.http.keys import PRINCIPAL
from regd.notify import PULLTHROUGH_FETCH, Notifier

NOTIFY: web.AppKey[Notifier] = web.AppKey("notify", Notifier)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MANIFEST = "/v2/{name}/manifests/{reference}"
_BLOB = "/v2/{name}/blobs/{digest}"
_API_REPOSITORY = "/api/v1/repositories/{name}"

#: (method, route) -> the action of its success (a pushed tag is also a ``tag``).
ACTIONS: dict[tuple[str, str], str] = {
    ("PUT", _MANIFEST): "push",
    ("GET", _MANIFEST): "pull",
    ("GET", _BLOB): "pull",
    ("DELETE", _MANIFEST): "delete",
    ("DELETE", _BLOB): "delete",
    ("POST", "/v2/{name}/blobs/uploads/"): "mount",
    ("POST", "/v2/{name}/blobs/uploads"): "mount",
    ("DELETE", _API_REPOSITORY + "/-/tags/{tag}"): "delete",
    ("DELETE", _API_REPOSITORY): "delete",
}


def middleware() -> Middleware:
    @web.middleware
    async def notify(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        action = ACTIONS.get((request.method, route.canonical if route is not None else ""))
        if action is None:
            return await handler(request)
        PULLTHROUGH_FETCH.set(False)
        response = await handler(request)
        mounted = response.status == 201 and "mount" in request.query
        if response.status < 300 and (action != "mount" or mounted):
            await _publish(request, response, action)
        return response

    return notify


async def _publish(request: web.Request, response: web.StreamResponse, action: str) -> None:
    notifier = request.app[NOTIFY]
    repository = request.match_info.get("name", "")
    actions = [action]
    reference = request.match_info.get("reference", "")
    if action == "push" and reference and ":" not in reference:
        actions.append("tag")
    if action == "pull" and PULLTHROUGH_FETCH.get():
        actions.append("pull-through")
    for each in actions:
        # Built only when an endpoint wants it: with no webhooks, a pull builds nothing.
        def make_event(each: str = each) -> dict[str, Any]:
            return _event(request, each, _target(request, response, repository))

        await notifier.publish(each, repository, make_event)


def _target(request: web.Request, response: web.StreamResponse, repository: str) -> dict[str, Any]:
    headers = response.headers
    digest = headers.get("Docker-Content-Digest") or request.match_info.get("digest", "")
    reference = request.match_info.get("reference", "")
    if not digest and ":" in reference:
        digest = reference
    if request.method == "PUT":
        media_type = request.headers.get("Content-Type", "")
        size = request.content_length
    else:
        media_type = headers.get("Content-Type", "") if request.method == "GET" else ""
        size = response.content_length
    target: dict[str, Any] = {"repository": repository}
    if media_type:
        target["mediaType"] = media_type.split(";")[0]
    if digest:
        target["digest"] = digest
        kind = "manifests" if "/manifests/" in request.path else "blobs"
        target["url"] = f"{public_url(request)}/v2/{repository}/{kind}/{digest}"
    if size is not None:
        target["size"] = target["length"] = size
    tag = request.match_info.get("tag") or (reference if reference and ":" not in reference else "")
    if tag:
        target["tag"] = tag
    return target


def _event(request: web.Request, action: str, target: dict[str, Any]) -> dict[str, Any]:
    principal = request.get(PRINCIPAL)
    actor = getattr(principal, "id", "") or ""
    return {
        "id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "action": action,
        "target": target,
        "request": {
            "id": request_id(request),
            "addr": request.remote or "",
            "host": request.host,
            "method": request.method,
            "useragent": request.headers.get("User-Agent", ""),
        },
        "actor": {"name": actor},
        "source": {"addr": request.host},
    }
