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

from regd.audit import AuditLog
from regd.auth.access import AccessController
from regd.auth.grants import Grants
from regd.auth.identities import Identities, IdentityError
from regd.auth.signing import SigningKeys
from regd.auth.tokens import Tokens
from regd.db import Database, connect
from regd.db.migrate import migrate_to_head
from regd.errors import StartupError
from regd.http import api, console, forwarded, health, oci, parser_log, token
from regd.http import audit as audit_http
from regd.http import metrics as metrics_http
from regd.http import notify as notify_http
from regd.http.api.auth import api_auth_middleware
from regd.http.errors import error_middleware
from regd.http.fresh import fresh_reads_middleware
from regd.http.keys import ACCESS, PULLTHROUGH, REGISTRY, REMOTES, SETTINGS, STRONGBOX
from regd.http.limits import READ_WHOLE
from regd.http.oci.access import access_middleware
from regd.metrics import Metrics
from regd.metrics import create as create_metrics
from regd.notify import Notifier
from regd.registry import Registry
from regd.registry.blobs import digest_lock
from regd.registry.gc import GarbageCollector
from regd.remotes.cache import CacheCap
from regd.remotes.config import Remotes
from regd.remotes.pullthrough import PullThrough
from regd.remotes.upstream import Upstream
from regd.settings import Settings, parse_networks
from regd.storage import opened_store
from regd.strongbox.crypto import MasterKeyError, MasterKeys
from regd.strongbox.records import agree
from regd.strongbox.sealed_keys import SealedKeyStore
from regd.strongbox.vaults import Vaults

log = logging.getLogger(__name__)


async def open_database(settings: Settings) -> Database:
    """Create the data directory and bring the database schema up to date."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = connect(settings.effective_database_url)
    try:
        await migrate_to_head(database)  # alembic in a child process, only when needed
    except BaseException:
        await database.close()
        raise
    return database


async def open_access(
    database: Database, settings: Settings, master: MasterKeys
) -> AccessController:
    """Signing keys (created on first start) and the ``admin`` user (likewise)."""
    keys = signing_keys(database, settings, master)
    await keys.load()
    identities = Identities(database)
    wanted = os.environ.get("REGD_ADMIN_PASSWORD")
    try:
        generated = await identities.bootstrap_admin(wanted)
    except IdentityError as error:
        raise StartupError(f"REGD_ADMIN_PASSWORD: {error.message}") from None
    if generated is None and wanted and not await identities.check_password("admin", wanted):
        print(
            "regd: user 'admin' exists; REGD_ADMIN_PASSWORD ignored "
            "(to change the password: regd admin reset-password)",
            file=sys.stderr,
            flush=True,
        )
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


def signing_keys(database: Database, settings: Settings, master: MasterKeys) -> SigningKeys:
    """The token-signing keys, sealed in the database (old key files imported once)."""
    return SigningKeys(SealedKeyStore(database, master), settings.data_dir / "keys")


async def open_master_keys(database: Database, settings: Settings) -> MasterKeys:
    """The Strongbox master key (created on first start unless REGD_MASTER_KEY is set),
    checked against the one this database's secrets are sealed with."""
    keys = master_keys(settings)
    try:
        await asyncio.to_thread(keys.load)
    except MasterKeyError as error:
        raise StartupError(
            f"REGD_MASTER_KEY: {error} (make one with: openssl rand -base64 32)"
        ) from None
    try:
        await agree(database, keys)
    except MasterKeyError as error:
        raise StartupError(f"master key: {error}") from None
    return keys


async def _housekeeping(registry: Registry, settings: Settings, audit: AuditLog) -> None:
    """Every ``upload_sweep_interval``: stale uploads, then audit events past retention."""
    try:
        # Staged files of uploads that died with a crash; other replicas' in-flight ones
        # (PostgreSQL) are recent and stay.
        guard = 600.0 if registry.db.is_postgresql else 0.0
        await registry.uploads.sweep_orphans(guard)
        # What a crash left in the store besides (object storage: fresh marks past the
        # collection grace, S3 multipart uploads of commits that died).
        await registry.store.purge_removed(time.time() - max(settings.gc_grace, guard))
    except Exception:
        log.exception("sweeping orphaned upload files failed")
    while True:
        try:
            await registry.uploads.expire(time.time() - settings.upload_ttl)
        except Exception:
            log.exception("sweeping stale uploads failed")
        if settings.audit_retention > 0:
            try:
                await audit.prune(time.time() - settings.audit_retention)
            except Exception:
                log.exception("deleting old audit events failed")
        await asyncio.sleep(settings.upload_sweep_interval)


def open_audit(database: Database, settings: Settings) -> AuditLog:
    try:
        return AuditLog(database, settings.audit_log, settings.audit_stderr)
    except OSError as error:
        raise StartupError(
            f"audit_log: cannot append to {settings.audit_log}: {error.strerror} (REGD_AUDIT_LOG)"
        ) from None


async def _collect_garbage(
    registry: Registry, settings: Settings, metrics: Metrics, audit: AuditLog
) -> None:
    collector = GarbageCollector(registry.db, registry.store, registry.blobs)
    while True:
        await asyncio.sleep(settings.gc_interval)
        try:
            report = await collector.collect(settings.gc_grace)
        except Exception as error:
            log.exception("garbage collection failed")
            await audit.record("gc", principal="regd", outcome="failure", error=str(error))
        else:
            metrics.gc_report(report.links, report.blobs, report.bytes)
            await audit.record(
                "gc", principal="regd", links=report.links, blobs=report.blobs, bytes=report.bytes
            )


def build_app(settings: Settings) -> web.Application:
    parser_log.install()
    metrics = create_metrics()  # per application: apps in one process share nothing
    app = web.Application(
        middlewares=[
            forwarded.middleware(parse_networks(settings.trusted_proxies)),
            fresh_reads_middleware,
            metrics_http.middleware(metrics),
            audit_http.middleware(),
            notify_http.middleware(),
            console.headers_middleware,
            error_middleware,
            access_middleware,
            api_auth_middleware,
        ],
        # What aiohttp reads whole (request.read(), request.post()); blob uploads stream,
        # manifests and /api/v1 bodies have their own, smaller caps (regd/http/limits.py).
        client_max_size=READ_WHOLE,
    )
    app[SETTINGS] = settings
    app[metrics_http.METRICS] = metrics

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        database = await open_database(settings)
        stack = contextlib.AsyncExitStack()
        try:
            store = await stack.enter_async_context(
                opened_store(settings.storage_url, settings.data_dir, digest_lock(database))
            )
        except BaseException:
            await database.close()
            raise
        registry = Registry(database, store)
        app[REGISTRY] = registry
        # The master key first: a bad REGD_MASTER_KEY stops regd before anything is created.
        master = await open_master_keys(database, settings)
        vaults = app[STRONGBOX] = Vaults(database, master)
        app[ACCESS] = await open_access(database, settings, master)
        remotes = app[REMOTES] = Remotes(database, vaults)
        upstream = Upstream(vaults, metrics)
        cache = CacheCap(registry, remotes)
        pullthrough = app[PULLTHROUGH] = PullThrough(
            registry, remotes, upstream, cache, memory=settings.pullthrough_memory, metrics=metrics
        )
        metrics.measure_pullthrough_memory(pullthrough.memory_in_use)
        # Last: what holds files, sessions and tasks starts once nothing else can fail.
        audit = app[audit_http.AUDIT] = open_audit(database, settings)
        notifier = app[notify_http.NOTIFY] = Notifier(
            database,
            queue_size=settings.webhook_queue_size,
            timeout=settings.webhook_timeout,
            retries=settings.webhook_retries,
        )
        await notifier.start()
        tasks = [asyncio.create_task(_housekeeping(registry, settings, audit))]
        if settings.gc_interval > 0:
            tasks.append(asyncio.create_task(_collect_garbage(registry, settings, metrics, audit)))
        yield
        await upstream.close()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await cache.flush()  # the cache reads noted since the last batch
        except Exception as error:  # shutting down regardless; say what was not recorded
            log.warning("recording the pull-through cache's last reads failed: %r", error)
        await notifier.close()
        audit.close()
        await stack.aclose()
        await database.close()

    app.cleanup_ctx.append(lifetime)
    health.add_routes(app)
    oci.add_routes(app)
    token.add_routes(app)
    api.add_routes(app)
    metrics_http.add_routes(app)
    console.add_routes(app)
    return app
