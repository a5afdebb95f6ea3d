"""The ``regd`` command: serve, migrate, gc, move, rotate-keys, rotate-master-key, admin, tls,
version.

Only argparse is imported up front: ``regd --help`` and ``regd version`` stay fast, and each
command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regd import __version__

if TYPE_CHECKING:
    import socket
    import ssl

    from regd.settings import Settings

log = logging.getLogger("regd")
#: Socket receive buffer for pushes; larger reads mean fewer wake-ups per MiB.
_READ_BUFSIZE = 1 << 20
_LOOPBACK = ("127.", "::1", "localhost")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regd", description="regd: a self-hostable OCI registry")
    parser.add_argument("--version", action="version", version=f"regd {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of a failure (any command)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the registry (the default data dir needs no setup)"
    )
    _common(serve)
    serve.add_argument(
        "--addr",
        metavar="HOST:PORT",
        help="HOST:PORT to listen on (env REGD_ADDR, default 127.0.0.1:5000; port 0 picks one)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log every request (env REGD_ACCESS_LOG)",
    )
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve HTTPS with this PEM certificate chain (env REGD_TLS_CERT; SIGHUP re-reads)",
    )
    serve.add_argument(
        "--tls-key", metavar="FILE", help="the certificate's PEM private key (env REGD_TLS_KEY)"
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
        metavar="SECONDS",
        help="keep blob links made this recently, e.g. 600 or 1h (env REGD_GC_GRACE, default 1h)",
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
    _admin_commands(commands)
    _tls_commands(commands)
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


def _admin_commands(commands: Any) -> None:
    admin = commands.add_parser("admin", help="the admin user: reset-password")
    actions = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    reset = actions.add_parser(
        "reset-password",
        help="set the admin user's password (read from stdin, or generated and printed once); "
        "works while regd serve runs",
    )
    _common(reset)
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the new password from stdin"
    )


def _tls_commands(commands: Any) -> None:
    tls = commands.add_parser("tls", help="certificates: self-signed (for development)")
    actions = tls.add_subparsers(dest="action", required=True, metavar="ACTION")
    signed = actions.add_parser(
        "self-signed",
        help="write a development CA (ca.crt) and a server certificate and key signed by it",
    )
    signed.add_argument(
        "--host",
        action="append",
        required=True,
        metavar="NAME",
        help="a host name or IP address clients use (repeat for several)",
    )
    signed.add_argument(
        "--out", type=Path, default=Path("tls"), metavar="DIR", help="where to write (./tls)"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where blobs and the database live (env REGD_DATA_DIR)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="a TOML settings file (env REGD_CONFIG)"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of a failure",
    )
    parser.add_argument(
        "--storage-url",
        metavar="URL",
        help="where blobs live: s3://BUCKET[/PREFIX]?endpoint=URL&region=R or "
        "swift://CONTAINER[/PREFIX] (env REGD_STORAGE_URL; default: files in the data dir)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    from regd.settings import load

    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "addr": getattr(args, "addr", None),
        "access_log": getattr(args, "access_log", None),
        "gc_grace": getattr(args, "grace", None),
        "tls_cert": getattr(args, "tls_cert", None),
        "tls_key": getattr(args, "tls_key", None),
        "storage_url": getattr(args, "storage_url", None),
    }
    return load(overrides, config_file=args.config)


async def _serve(settings: Settings) -> None:
    import asyncio
    import signal
    import socket

    from aiohttp import web

    from regd.app import build_app

    context = _tls_context(settings)
    listener = _listen(settings.host, settings.port)
    app = build_app(settings)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("regd.access") if settings.access_log else None,
        handle_signals=False,
        shutdown_timeout=settings.shutdown_timeout,
        read_bufsize=_READ_BUFSIZE,
    )
    await runner.setup()
    await web.SockSite(runner, listener, backlog=1024, ssl_context=context).start()
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if listener.family == socket.AF_INET6 else host
    warning = plain_http_warning(f"{shown}:{port}") if context is None else None
    if warning is not None:
        log.warning("%s", warning)
    # The handlers before the ready line: a SIGTERM sent as soon as it is read drains.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if context is not None:
        loop.add_signal_handler(signal.SIGHUP, _reload_tls, context, settings)
    # One write, newline included: a log line from another thread cannot split it.
    scheme = "https" if context is not None else "http"
    sys.stderr.write(f"regd listening on {scheme}://{shown}:{port}\n")
    sys.stderr.flush()
    await stop.wait()
    log.info("shutting down: finishing requests in flight")
    await runner.cleanup()


def plain_http_warning(address: str) -> str | None:
    """What to say when regd listens without TLS on ``address`` (``HOST:PORT``), if anything."""
    if address.strip("[").startswith(_LOOPBACK):
        return None
    return (
        f"listening on {address} without TLS: docker refuses plain HTTP from any host but "
        "localhost unless it is in insecure-registries; serve HTTPS with --tls-cert/--tls-key "
        "(regd tls self-signed for a test CA) or behind a TLS proxy"
    )


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    from regd import tls

    return tls.server_context(settings.tls_cert, settings.tls_key)


def _reload_tls(context: ssl.SSLContext, settings: Settings) -> None:
    from regd import tls
    from regd.errors import StartupError

    try:
        tls.reload(context, settings.tls_cert, settings.tls_key)
    except StartupError as error:
        log.error("SIGHUP: kept the certificate in use: %s", error)
    else:
        log.info("SIGHUP: reloaded %s", settings.tls_cert)


def _listen(host: str, port: int) -> socket.socket:
    """Bind first, so the real port (``:0`` picks one) is known before we say we listen."""
    import errno
    import socket

    from regd.errors import StartupError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        shown = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        why = {
            errno.EADDRINUSE: "the address is in use (another regd?)",
            errno.EADDRNOTAVAIL: "no interface has that address",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
        }.get(error.errno or 0, error.strerror or str(error))
        raise StartupError(
            f"addr: cannot listen on {shown}: {why}; pick another with --addr or REGD_ADDR"
        ) from None
    listener.setblocking(False)
    return listener


async def _migrate(settings: Settings) -> None:
    from regd.app import open_database

    database = await open_database(settings)
    await database.close()
    print(
        f"database at {settings.effective_database_url.split('@')[-1]} is up to date",
        file=sys.stderr,
    )


async def _gc(settings: Settings, dry_run: bool) -> None:
    """One collection through the database and data dir a running regd may be using."""
    from regd.app import open_audit, open_database
    from regd.registry.blobs import Blobs, digest_lock
    from regd.registry.gc import GarbageCollector
    from regd.registry.repositories import Repositories
    from regd.storage import opened_store

    database = await open_database(settings)
    try:
        lock = digest_lock(database)
        async with opened_store(settings.storage_url, settings.data_dir, lock) as store:
            blobs = Blobs(database, store, Repositories(database))
            report = await GarbageCollector(database, store, blobs).collect(
                settings.gc_grace, dry_run=dry_run
            )
        if not dry_run:
            audit = open_audit(database, settings)
            await audit.record(
                "gc",
                principal="regd gc",
                links=report.links,
                blobs=report.blobs,
                bytes=report.bytes,
            )
            audit.close()
    finally:
        await database.close()
    print(f"regd gc: {report}")


async def _move(settings: Settings, to_storage_url: str, to_database_url: str) -> None:
    """``regd move``: blobs to ``to_storage_url``, metadata to ``to_database_url``."""
    from regd.app import open_database
    from regd.registry.blobs import digest_lock
    from regd.registry.move import move_registry
    from regd.storage import StorageConfigError, opened_store

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


async def _rotate_keys(settings: Settings) -> None:
    from regd.app import open_database, open_master_keys, signing_keys

    database = await open_database(settings)
    try:
        keys = signing_keys(database, settings, await open_master_keys(database, settings))
        await keys.load()
        new = await keys.rotate()
        removed = await keys.prune(settings.token_lifetime)
    finally:
        await database.close()
    print(f"regd: new signing key {new}; removed {len(removed)} expired key(s)", file=sys.stderr)


async def _rotate_master_key(settings: Settings) -> None:
    """New key first, re-wrap, then drop the old key files: readers never lose a key."""
    from regd.app import open_database, open_master_keys
    from regd.strongbox.records import agree, retire_all_but_current
    from regd.strongbox.sealed_keys import SealedKeyStore
    from regd.strongbox.vaults import Vaults

    database = await open_database(settings)
    try:
        keys = await open_master_keys(database, settings)
        if not keys.managed_by_env:
            keys.create()
            await agree(database, keys)  # records the new key beside the old one
        rewrapped = await Vaults(database, keys).rewrap_all()
        rewrapped_signing = await SealedKeyStore(database, keys).rewrap_all()
        await retire_all_but_current(database, keys)
        removed = [] if keys.managed_by_env else keys.remove_all_but_current()
    finally:
        await database.close()
    print(
        f"regd: master key {keys.current_id}; re-wrapped {rewrapped} secret(s) and "
        f"{rewrapped_signing} signing key(s); removed {len(removed)} old key file(s)",
        file=sys.stderr,
    )


async def _reset_admin_password(settings: Settings, from_stdin: bool) -> None:
    from regd.app import open_database
    from regd.auth.identities import Identities, IdentityError
    from regd.auth.secrets import random_secret
    from regd.errors import StartupError

    password = sys.stdin.readline().rstrip("\r\n") if from_stdin else random_secret(18)
    database = await open_database(settings)
    try:
        await Identities(database).set_password("admin", password)
    except IdentityError as error:
        raise StartupError(f"admin reset-password: {error.message}") from None
    finally:
        await database.close()
    if from_stdin:
        print("regd: the admin password is set", file=sys.stderr)
    else:
        print(f"regd: the admin password is now {password} (shown once)", file=sys.stderr)


def _self_signed(hosts: list[str], out: Path) -> None:
    from regd.tls import self_signed

    made = self_signed(out, hosts)
    host = hosts[0]
    print(
        f"regd: wrote {made.cert}, {made.key} and the CA {made.ca}\n"
        f"  serve:   regd serve --addr 0.0.0.0:5000 --tls-cert {made.cert} --tls-key {made.key}\n"
        f"  docker:  /etc/docker/certs.d/{host}:5000/ca.crt (copy {made.ca} there)\n"
        f"  podman, skopeo: --cert-dir DIR with {made.ca.name} in DIR "
        f"(or /etc/containers/certs.d/{host}:5000/ca.crt)\n"
        f"  regctl:  --ca-cert {made.ca} or REGCTL_CA_CERT={made.ca}\n"
        f"  curl:    --cacert {made.ca}",
        file=sys.stderr,
    )


def _run(main: Coroutine[Any, Any, None]) -> None:
    import asyncio

    # The stock asyncio loop, not uvloop: only it implements loop.sendfile, which blob
    # GETs (aiohttp FileResponse) use; measured equal on small requests (docs/performance.md).
    asyncio.run(main)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Alembic says INFO for every migration it checks: quiet unless debugging.
        logging.getLogger("alembic").setLevel(logging.WARNING)


def _dispatch(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "serve":
        _run(_serve(settings))
    elif args.command == "migrate":
        _run(_migrate(settings))
    elif args.command == "gc":
        _run(_gc(settings, args.dry_run))
    elif args.command == "rotate-keys":
        _run(_rotate_keys(settings))
    elif args.command == "rotate-master-key":
        _run(_rotate_master_key(settings))
    elif args.command == "admin":
        _run(_reset_admin_password(settings, args.password_stdin))
    elif args.command == "move":
        _run(_move(settings, args.to_storage_url, args.to_database_url or ""))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"regd {__version__}")
        return 0
    try:
        if args.command == "tls":
            _self_signed(args.host, args.out)
            return 0
        try:
            settings = _settings(args)
        except (ValueError, OSError) as error:
            print(f"regd: {error}", file=sys.stderr)
            return 2
        _configure_logging(settings)
        _dispatch(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        return _failed(error, args.debug)
    return 0


def _failed(error: Exception, debug: bool) -> int:
    """One line for the operator; the traceback only with ``--debug``."""
    from regd.errors import StartupError
    from regd.registry.move import MoveError
    from regd.storage import StorageConfigError, StorageUnavailable

    if debug:
        import traceback

        traceback.print_exc()
    if isinstance(
        error, StartupError | OSError | StorageConfigError | StorageUnavailable | MoveError
    ):
        print(f"regd: {error}", file=sys.stderr)
    else:
        hint = "" if debug else " (regd --debug ... shows the traceback)"
        print(f"regd: internal error: {type(error).__name__}: {error}{hint}", file=sys.stderr)
    return 1
