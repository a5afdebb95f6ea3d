"""Liveness and readiness probes."""

from __future__ import annotations

from aiohttp import web

from regd.http.keys import REGISTRY


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    registry = request.app[REGISTRY]
    try:
        await registry.ping()
    except Exception as error:  # any failure means "not ready"
        return web.json_response(
            {"status": "unavailable", "reason": type(error).__name__}, status=503
        )
    return web.json_response({"status": "ready"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
