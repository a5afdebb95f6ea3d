"""The web console at /ui/: static ES modules that call /api/v1 and /v2 like any client,
and the sign-in session they run with (``session.py``)."""

from __future__ import annotations

from aiohttp import web

from regd.http.console import assets, login

PREFIX = "/ui"
#: Goes before the error middleware, so its answers carry the console's headers too.
headers_middleware = assets.headers_middleware


def add_routes(app: web.Application) -> None:
    app.router.add_get(PREFIX, assets.redirect)
    app.router.add_get(PREFIX + "/", assets.index)
    app.router.add_get(PREFIX + "/session", login.show)
    app.router.add_post(PREFIX + "/session", login.sign_in)
    app.router.add_delete(PREFIX + "/session", login.sign_out)
    app.router.add_get(PREFIX + "/{path:((js|vendor)/)?[a-z0-9.-]+\\.(js|css|svg)}", assets.asset)
