"""Builds the aiohttp.web Application: routes, middlewares, and what lives as long as it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator

from aiohttp import web

from regd.auth.access import AccessController
from regd.auth.grants import Grants
from regd.auth.identities import Identities
from regd.auth.signing import SigningKeys
from regd.auth.tokens import Tokens
from regd.db import Database, connect, upgrade
from regd.http import api, console, health, oci, token
from regd.http import metrics as metrics_http
from regd.http.api.auth import api_auth_middleware
from regd.http.errors import error_middleware
from regd.http.keys import ACCESS, PULLTHROUGH, REGISTRY, REMOTES, SETTINGS, STRONGBOX
from regd.http.oci.access import access_middleware
from regd.metrics import Metrics
from regd.metrics import create as create_metrics
from regd.registry import Registry
from regd.registry.gc import GarbageCollector
from regd.remotes.cache import CacheCap
from regd.remotes.config import Remotes
from regd.remotes.pullthrough import PullThrough
from regd.remotes.upstream import Upstream
from regd.settings import Settings
from regd.storage import FilesystemStore
from regd.strongbox.crypto import MasterKeys
from regd.strongbox.vaults import Vaults

log = logging.getLogger(__name__)


async def open_database(settings: Settings) -> Database:
    """Create the data directory and bring the database schema up to date."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = connect(settings.effective_database_url)
    await upgrade(database)
    return database


async def open_access(database: Database, settings: Settings) -> AccessController:
    """Signing keys (created on first start) and the ``admin`` user (likewise)."""
    keys = SigningKeys(settings.data_dir / "keys")
    await asyncio.to_thread(keys.load)
    identities = Identities(database)
    generated = await identities.bootstrap_admin(os.environ.get("REGD_ADMIN_PASSWORD"))
    if generated is not None:
        # Shown once, on stderr, never logged: the operator's only chance to read it.
        print(
            f"regd: created user 'admin' with password {generated}\n"
            "regd: this is shown once; set REGD_ADMIN_PASSWORD before the first start to choose it",
            file=sys.stderr,
            flush=True,
        )
    return AccessController(
        identities, Tokens(database), Grants(database, identities), keys, settings.service
    )


def master_keys(settings: Settings) -> MasterKeys:
    return MasterKeys(settings.data_dir / "keys", os.environ.get("REGD_MASTER_KEY"))


async def open_strongbox(database: Database, settings: Settings) -> Vaults:
    """The Strongbox master key (created on first start unless REGD_MASTER_KEY is set)."""
    keys = master_keys(settings)
    await asyncio.to_thread(keys.load)
    return Vaults(database, keys)


async def _sweep_uploads(registry: Registry, settings: Settings) -> None:
    while True:
        try:
            await registry.uploads.expire(time.time() - settings.upload_ttl)
        except Exception:
            log.exception("sweeping stale uploads failed")
        await asyncio.sleep(settings.upload_sweep_interval)


async def _collect_garbage(registry: Registry, settings: Settings, metrics: Metrics) -> None:
    collector = GarbageCollector(registry.db, registry.store, registry.blobs)
    while True:
        await asyncio.sleep(settings.gc_interval)
        try:
            report = await collector.collect(settings.gc_grace)
        except Exception:
            log.exception("garbage collection failed")
        else:
            metrics.gc_report(report.links, report.blobs, report.bytes)


def build_app(settings: Settings) -> web.Application:
    metrics = create_metrics()  # per application: apps in one process share nothing
    app = web.Application(
        middlewares=[
            metrics_http.middleware(metrics),
            console.headers_middleware,
            error_middleware,
            access_middleware,
            api_auth_middleware,
        ],
        client_max_size=1 << 30,
    )
    app[SETTINGS] = settings
    app[metrics_http.METRICS] = metrics

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        database = await open_database(settings)
        registry = Registry(database, FilesystemStore(settings.data_dir))
        app[REGISTRY] = registry
        app[ACCESS] = await open_access(database, settings)
        vaults = app[STRONGBOX] = await open_strongbox(database, settings)
        remotes = app[REMOTES] = Remotes(database, vaults)
        upstream = Upstream(vaults, metrics)
        cache = CacheCap(registry, remotes)
        pullthrough = app[PULLTHROUGH] = PullThrough(
            registry, remotes, upstream, cache, memory=settings.pullthrough_memory, metrics=metrics
        )
        metrics.measure_pullthrough_memory(pullthrough.memory_in_use)
        tasks = [asyncio.create_task(_sweep_uploads(registry, settings))]
        if settings.gc_interval > 0:
            tasks.append(asyncio.create_task(_collect_garbage(registry, settings, metrics)))
        yield
        await upstream.close()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await cache.flush()  # the cache reads noted since the last batch
        await database.close()

    app.cleanup_ctx.append(lifetime)
    health.add_routes(app)
    oci.add_routes(app)
    token.add_routes(app)
    api.add_routes(app)
    metrics_http.add_routes(app)
    console.add_routes(app)
    return app
