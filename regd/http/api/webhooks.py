"""``/api/v1/webhooks``: event notification endpoints and their delivery history (admins)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from regd.http.api.auth import require_admin
from regd.http.api.common import json_body, timestamp
from regd.http.api.routes import DENIED, ApiRoute
from regd.http.notify import NOTIFY
from regd.notify import ACTIONS, Endpoint
from regd.notify.endpoints import endpoint_from

BASE = "/api/v1/webhooks"


def _render(endpoint: Endpoint) -> dict[str, Any]:
    shown = endpoint.public()
    shown["created-at"] = timestamp(endpoint.created_at)
    return shown


async def list_webhooks(request: web.Request) -> web.Response:
    await require_admin(request)
    endpoints = await request.app[NOTIFY].endpoints.all()
    return web.json_response([_render(endpoint) for endpoint in endpoints])


async def create_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    endpoint = endpoint_from(await json_body(request))
    await request.app[NOTIFY].create(endpoint)
    return web.json_response(_render(endpoint), status=201)


async def show_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    endpoint = await request.app[NOTIFY].endpoints.get(request.match_info["name"])
    return web.json_response(_render(endpoint))


async def delete_webhook(request: web.Request) -> web.Response:
    await require_admin(request)
    await request.app[NOTIFY].delete(request.match_info["name"])
    return web.Response(status=204)


async def list_deliveries(request: web.Request) -> web.Response:
    await require_admin(request)
    found = await request.app[NOTIFY].endpoints.deliveries(request.match_info["name"])
    for delivery in found:
        delivery["time"] = timestamp(delivery["time"])
    return web.json_response(found)


_WEBHOOK: dict[str, Any] = {
    "type": "object",
    "required": ["name", "url"],
    "properties": {
        "name": {"type": "string", "description": "[a-z0-9][a-z0-9._-]{0,63}"},
        "url": {"type": "string", "description": "http:// or https:// URL events are POSTed to"},
        "events": {"type": "array", "items": {"type": "string", "enum": list(ACTIONS)}},
        "repositories": {"type": "string", "description": "a glob of repository names ('*')"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "secret": {
            "type": "string",
            "description": "HMAC-SHA256 key (16+ characters): X-Regd-Signature-256: sha256=HEX",
        },
    },
}
_SHOWN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "url": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "repositories": {"type": "string"},
        "headers": {"type": "array", "items": {"type": "string"}, "description": "names only"},
        "signed": {"type": "boolean"},
        "created-at": {"type": "string", "format": "date-time"},
    },
}
_DELIVERY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event-id": {"type": "string"},
        "action": {"type": "string"},
        "repository": {"type": "string"},
        "outcome": {"type": "string", "enum": ["queued", "delivered", "failed", "dropped"]},
        "attempts": {"type": "integer"},
        "status": {"type": ["integer", "null"]},
        "error": {"type": ["string", "null"]},
        "time": {"type": "string", "format": "date-time"},
    },
}

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        BASE,
        list_webhooks,
        "List webhook endpoints",
        "webhooks",
        {200: "the endpoints", **DENIED},
        response_schema={"type": "array", "items": _SHOWN},
    ),
    ApiRoute(
        "POST",
        BASE,
        create_webhook,
        "Create a webhook endpoint",
        "webhooks",
        {201: "created", 400: "invalid", 409: "exists", **DENIED},
        response_schema=_SHOWN,
        request_schema=_WEBHOOK,
    ),
    ApiRoute(
        "GET",
        BASE + "/{name}",
        show_webhook,
        "Show a webhook endpoint",
        "webhooks",
        {200: "the endpoint", 404: "no such webhook", **DENIED},
        response_schema=_SHOWN,
    ),
    ApiRoute(
        "DELETE",
        BASE + "/{name}",
        delete_webhook,
        "Delete a webhook endpoint (its queue and history too)",
        "webhooks",
        {204: "deleted", 404: "no such webhook", **DENIED},
    ),
    ApiRoute(
        "GET",
        BASE + "/{name}/deliveries",
        list_deliveries,
        "Events queued (oldest first), then deliveries (newest first)",
        "webhooks",
        {200: "the deliveries", 404: "no such webhook", **DENIED},
        response_schema={"type": "array", "items": _DELIVERY},
    ),
)
