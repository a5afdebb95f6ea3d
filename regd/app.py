"""Builds the aiohttp.web Application: routes, middlewares, and what lives as long as it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from regd.db import connect, upgrade
from regd.http import api, health, oci
from regd.http.errors import error_middleware
from regd.http.keys import REGISTRY
from regd.registry import Registry
from regd.settings import Settings
from regd.storage import FilesystemStore

log = logging.getLogger(__name__)


async def open_registry(settings: Settings) -> Registry:
    """Create the data directory, migrate the database and open the blob store."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = connect(settings.effective_database_url)
    await upgrade(database)
    return Registry(database, FilesystemStore(settings.data_dir))


async def _sweep_uploads(registry: Registry, settings: Settings) -> None:
    while True:
        try:
            await registry.uploads.expire(time.time() - settings.upload_ttl)
        except Exception:
            log.exception("sweeping stale uploads failed")
        await asyncio.sleep(settings.upload_sweep_interval)


def build_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=1 << 30)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        registry = await open_registry(settings)
        app[REGISTRY] = registry
        sweeper = asyncio.create_task(_sweep_uploads(registry, settings))
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await registry.db.close()

    app.cleanup_ctx.append(lifetime)
    health.add_routes(app)
    oci.add_routes(app)
    api.add_routes(app)
    return app
