"""regd settings: command-line flags over `REGD_*` environment over a TOML file over defaults."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from regd.durations import parse_duration
from regd.storage.errors import StorageConfigError
from regd.storage.url import parse_storage_url

DEFAULT_ADDR = "127.0.0.1:5000"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("regd", appauthor=False))


@dataclass(frozen=True, slots=True)
class Settings:
    addr: str = DEFAULT_ADDR
    data_dir: Path = field(default_factory=_default_data_dir)
    #: SQLAlchemy URL; empty means SQLite at ``DATA_DIR/regd.db``.
    database_url: str = ""
    #: Where blobs live: empty means files under ``DATA_DIR``; ``s3://BUCKET[/PREFIX]?...``
    #: or ``swift://CONTAINER[/PREFIX]`` (credentials from the environment, never here).
    storage_url: str = ""
    #: Answer blob GETs on object storage with a 307 to a presigned S3 URL / Swift temp URL.
    storage_redirect: bool = False
    #: Seconds an upload may sit untouched before it is dropped.
    upload_ttl: float = 24 * 3600.0
    #: Seconds between sweeps for stale uploads.
    upload_sweep_interval: float = 600.0
    #: Seconds a blob link no manifest references is kept (a push uploads blobs first).
    gc_grace: float = 3600.0
    #: Seconds between garbage collections in ``regd serve``; 0: none (run ``regd gc``).
    gc_interval: float = 0.0
    access_log: bool = False
    #: Let anyone scrape ``/metrics`` (default: registry admins only).
    metrics_public: bool = False
    log_level: str = "INFO"
    #: Bytes of cold pull-through blobs held in memory ahead of the cache writes (all pulls).
    pullthrough_memory: int = 512 << 20
    #: Seconds SIGTERM waits for requests in flight.
    shutdown_timeout: float = 60.0
    #: The URL clients reach regd at (token realm, Location); empty: from each request.
    public_url: str = ""
    #: The ``service`` of registry tokens (the JWT audience).
    service: str = "regd"
    #: Seconds a registry token (JWT from /token) lives.
    token_lifetime: float = 300.0
    #: Seconds a refresh token (``offline_token=true``, docker's identity token) lives.
    refresh_token_lifetime: float = 90 * 86400.0
    #: PEM certificate chain and private key: regd speaks HTTPS (re-read on SIGHUP).
    tls_cert: str = ""
    tls_key: str = ""
    #: Proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For/-Proto
    #: regd believes; empty: none (the headers are ignored).
    trusted_proxies: str = ""
    #: A file the audit log is appended to (JSON lines); ``audit_stderr`` also writes them
    #: to stderr. Either way every event is kept in the database (``GET /api/v1/audit``).
    audit_log: str = ""
    audit_stderr: bool = False
    #: Seconds audit events are kept in the database (the file is the operator's to rotate);
    #: 0: forever. Older ones are deleted by the sweep that runs every upload_sweep_interval.
    audit_retention: float = 90 * 86400.0
    #: Events each webhook endpoint may have waiting; the oldest are dropped past it.
    webhook_queue_size: int = 1000
    #: Seconds a webhook receiver has to answer.
    webhook_timeout: float = 10.0
    #: Attempts after a failed delivery (backoff 1 s, 2 s, 4 s, up to 5 min) before giving up.
    webhook_retries: int = 10

    @property
    def host(self) -> str:
        host, _, _ = self.addr.rpartition(":")
        return host.strip("[]") or "0.0.0.0"

    @property
    def port(self) -> int:
        return int(self.addr.rpartition(":")[2])

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert or self.tls_key)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'regd.db'}"


def _coerce(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = kinds[name]
    if kind == "Path":
        return Path(value).expanduser()
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return parse_duration(str(value))
    if kind == "int":
        return int(value)
    if kind == "bool":
        return (
            value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        )
    return str(value)


def _setting(name: str, value: Any, source: str) -> Any:
    """``value`` as setting ``name`` wants it; a ``ValueError`` names the setting and where."""
    try:
        return _coerce(name, value)
    except ValueError as error:
        detail = str(error) if "duration" in str(error) else f"invalid value {value!r}"
        raise ValueError(f"{source}: {detail}") from None


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``10.0.0.1, 192.168.0.0/16, ::1`` (``trusted_proxies``) -> networks; ``ValueError``
    naming the bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"trusted_proxies: {entry!r} is not an address or network (REGD_TRUSTED_PROXIES)"
            ) from None
    return tuple(networks)


def _validate(settings: Settings) -> Settings:
    try:
        port = settings.port
    except ValueError:
        raise ValueError(
            f"addr: invalid address {settings.addr!r}: expected HOST:PORT (--addr, REGD_ADDR)"
        ) from None
    if not 0 <= port <= 65535:
        raise ValueError(f"addr: invalid port in {settings.addr!r} (--addr, REGD_ADDR)")
    try:
        parse_storage_url(settings.storage_url)
    except StorageConfigError as error:
        raise ValueError(str(error)) from None
    if settings.pullthrough_memory < 0:
        raise ValueError("pullthrough_memory is a number of bytes, 0 or more")
    parse_networks(settings.trusted_proxies)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ValueError("tls_cert and tls_key go together: set both (--tls-cert, --tls-key)")
    return settings


def load(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Settings from (lowest first) defaults, the TOML file, ``REGD_*`` and ``overrides``."""
    environ = os.environ if environ is None else environ
    names = [f.name for f in fields(Settings)]
    values: dict[str, Any] = {}
    config_path = config_file or (
        Path(environ["REGD_CONFIG"]) if environ.get("REGD_CONFIG") else None
    )
    if config_path is not None:
        with config_path.open("rb") as file:
            document = tomllib.load(file)
        unknown = set(document) - set(names)
        if unknown:
            raise ValueError(f"{config_path}: unknown setting(s) {', '.join(sorted(unknown))}")
        for key, value in document.items():
            values[key] = _setting(key, value, f"{config_path}: {key}")
    for name in names:
        raw = environ.get(f"REGD_{name.upper()}")
        if raw:
            values[name] = _setting(name, raw, f"REGD_{name.upper()}")
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _setting(name, value, "--" + name.replace("_", "-"))
    return _validate(replace(Settings(), **values))
