"""The ``regd`` command: serve, migrate, gc, move, rotate-keys, rotate-master-key, version."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from regd import __version__
from regd.app import build_app, master_keys, open_database
from regd.auth.signing import SigningKeys
from regd.registry.blobs import Blobs, digest_lock
from regd.registry.gc import GarbageCollector
from regd.registry.move import MoveError, move_registry
from regd.registry.repositories import Repositories
from regd.settings import Settings, load
from regd.storage import StorageConfigError, StorageUnavailable, opened_store
from regd.strongbox.vaults import Vaults

log = logging.getLogger("regd")
#: Socket receive buffer for pushes; larger reads mean fewer wake-ups per MiB.
_READ_BUFSIZE = 1 << 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regd", description="regd: a self-hostable OCI registry")
    parser.add_argument("--version", action="version", version=f"regd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the registry (the default data dir needs no setup)"
    )
    _common(serve)
    serve.add_argument(
        "--addr",
        help="HOST:PORT to listen on (env REGD_ADDR, default 127.0.0.1:5000; port 0 picks one)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log every request (env REGD_ACCESS_LOG)",
    )

    migrate = commands.add_parser("migrate", help="bring the database schema up to date and exit")
    _common(migrate)
    gc = commands.add_parser(
        "gc",
        help="free blobs no manifest references and blobs nothing links "
        "(safe while regd serve runs on the same data)",
    )
    _common(gc)
    gc.add_argument("--dry-run", action="store_true", help="only print what would be freed")
    gc.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="keep blob links made this recently (env REGD_GC_GRACE, default 3600)",
    )
    rotate = commands.add_parser(
        "rotate-keys",
        help="create a new token-signing key (old keys keep verifying until their tokens expire)",
    )
    _common(rotate)
    master = commands.add_parser(
        "rotate-master-key",
        help="re-wrap Strongbox data keys under a new master key (or REGD_MASTER_KEY's first)",
    )
    _common(master)
    move = commands.add_parser(
        "move",
        help="copy this registry's blobs into another store and its metadata into another "
        "database (resumable; every digest verified); stop regd serve first",
    )
    _common(move)
    move.add_argument(
        "--to-storage-url",
        required=True,
        metavar="URL",
        help="where the blobs go: s3://... or swift://... (credentials from the environment)",
    )
    move.add_argument(
        "--to-database-url",
        metavar="URL",
        help="where the metadata goes (postgresql+asyncpg://...); omitted: it stays",
    )
    commands.add_parser("version", help="print the version")
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="where blobs and the database live (env REGD_DATA_DIR)"
    )
    parser.add_argument("--config", type=Path, help="a TOML settings file (env REGD_CONFIG)")
    parser.add_argument(
        "--storage-url",
        metavar="URL",
        help="where blobs live: s3://BUCKET[/PREFIX]?endpoint=URL&region=R or "
        "swift://CONTAINER[/PREFIX] (env REGD_STORAGE_URL; default: files in the data dir)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "addr": getattr(args, "addr", None),
        "access_log": getattr(args, "access_log", None),
        "gc_grace": getattr(args, "grace", None),
        "storage_url": getattr(args, "storage_url", None),
    }
    return load(overrides, config_file=args.config)


async def _serve(settings: Settings) -> None:
    app = build_app(settings)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("regd.access") if settings.access_log else None,
        handle_signals=False,
        shutdown_timeout=settings.shutdown_timeout,
        read_bufsize=_READ_BUFSIZE,
    )
    await runner.setup()
    listener = _listen(settings.host, settings.port)
    await web.SockSite(runner, listener, backlog=1024).start()
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if listener.family == socket.AF_INET6 else host
    # One write, newline included: a log line from another thread cannot split it.
    sys.stderr.write(f"regd listening on http://{shown}:{port}\n")
    sys.stderr.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down: finishing requests in flight")
    await runner.cleanup()


def _listen(host: str, port: int) -> socket.socket:
    """Bind first, so the real port (``:0`` picks one) is known before we say we listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.setblocking(False)
    return listener


async def _migrate(settings: Settings) -> None:
    database = await open_database(settings)
    await database.close()
    print(
        f"database at {settings.effective_database_url.split('@')[-1]} is up to date",
        file=sys.stderr,
    )


async def _gc(settings: Settings, dry_run: bool) -> None:
    """One collection through the database and data dir a running regd may be using."""
    database = await open_database(settings)
    try:
        lock = digest_lock(database)
        async with opened_store(settings.storage_url, settings.data_dir, lock) as store:
            blobs = Blobs(database, store, Repositories(database))
            report = await GarbageCollector(database, store, blobs).collect(
                settings.gc_grace, dry_run=dry_run
            )
    finally:
        await database.close()
    print(f"regd gc: {report}")


async def _move(settings: Settings, to_storage_url: str, to_database_url: str) -> None:
    """``regd move``: blobs to ``to_storage_url``, metadata to ``to_database_url``."""
    target_settings = replace(
        settings, storage_url=to_storage_url, database_url=to_database_url or settings.database_url
    )
    if (target_settings.storage_url, target_settings.effective_database_url) == (
        settings.storage_url,
        settings.effective_database_url,
    ):
        raise StorageConfigError("regd move: the target is the source")
    source_db = await open_database(settings)
    target_db = await open_database(target_settings) if to_database_url else source_db
    try:
        async with (
            opened_store(settings.storage_url, settings.data_dir, digest_lock(source_db)) as source,
            opened_store(to_storage_url, settings.data_dir, digest_lock(target_db)) as target,
        ):
            report = await move_registry(
                source_db, source, target_db, target, metadata=bool(to_database_url)
            )
    finally:
        if target_db is not source_db:
            await target_db.close()
        await source_db.close()
    print(f"regd move: {report}")


def _rotate_keys(settings: Settings) -> None:
    keys = SigningKeys(settings.data_dir / "keys")
    keys.load()
    new = keys.rotate()
    removed = keys.prune(settings.token_lifetime)
    print(
        f"regd: new signing key {new.kid}; removed {len(removed)} expired key(s)", file=sys.stderr
    )


async def _rotate_master_key(settings: Settings) -> None:
    """New key first, re-wrap, then drop the old key files: readers never lose a key."""
    database = await open_database(settings)
    keys = master_keys(settings)
    keys.load()
    if not keys.managed_by_env:
        keys.create()
    rewrapped = await Vaults(database, keys).rewrap_all()
    removed = [] if keys.managed_by_env else keys.remove_all_but_current()
    await database.close()
    print(
        f"regd: master key {keys.current_id}; re-wrapped {rewrapped} secret(s); "
        f"removed {len(removed)} old key file(s)",
        file=sys.stderr,
    )


def _run(main: Coroutine[Any, Any, None]) -> None:
    # The stock asyncio loop, not uvloop: only it implements loop.sendfile, which blob
    # GETs (aiohttp FileResponse) use; measured equal on small requests (docs/performance.md).
    asyncio.run(main)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"regd {__version__}")
        return 0
    try:
        settings = _settings(args)
    except (ValueError, OSError) as error:
        print(f"regd: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "serve":
            _run(_serve(settings))
        elif args.command == "migrate":
            _run(_migrate(settings))
        elif args.command == "gc":
            _run(_gc(settings, args.dry_run))
        elif args.command == "rotate-keys":
            _rotate_keys(settings)
        elif args.command == "rotate-master-key":
            _run(_rotate_master_key(settings))
        elif args.command == "move":
            _run(_move(settings, args.to_storage_url, args.to_database_url or ""))
    except (OSError, StorageConfigError, StorageUnavailable, MoveError) as error:
        print(f"regd: {error}", file=sys.stderr)
        return 1
    return 0
