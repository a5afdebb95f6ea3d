"""The management API under /api/v1/ (OpenAPI-described at /api/v1/openapi.json)."""

from __future__ import annotations

from aiohttp import web

from regd.http.api import (
    access_rules,
    api_clients,
    audit,
    openapi,
    policies,
    remotes,
    repositories,
    strongbox,
    tokens,
    users,
    webhooks,
)
from regd.http.api.routes import ApiRoute
from regd.http.api.validation import validated

# Repository sub-resources first: the nested-name pattern would swallow them otherwise.
ROUTES: tuple[ApiRoute, ...] = (
    *access_rules.ROUTES,
    *repositories.ROUTES,
    *users.ROUTES,
    *api_clients.ROUTES,
    *tokens.ROUTES,
    *policies.ROUTES,
    *strongbox.ROUTES,
    *remotes.ROUTES,
    *audit.ROUTES,
    *webhooks.ROUTES,
)


def add_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, validated(route))
    document = openapi.document(ROUTES)

    async def serve_openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get(openapi.PATH, serve_openapi)
