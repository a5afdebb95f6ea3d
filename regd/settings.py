"""regd settings: command-line flags over `REGD_*` environment over a TOML file over defaults."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

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

    @property
    def host(self) -> str:
        host, _, _ = self.addr.rpartition(":")
        return host.strip("[]") or "0.0.0.0"

    @property
    def port(self) -> int:
        return int(self.addr.rpartition(":")[2])

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'regd.db'}"


def _coerce(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = kinds[name]
    if kind == "Path":
        return Path(value).expanduser()
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return (
            value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        )
    return str(value)


def _validate(settings: Settings) -> Settings:
    try:
        port = settings.port
    except ValueError:
        raise ValueError(f"invalid address {settings.addr!r}: expected HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"invalid port in {settings.addr!r}")
    try:
        parse_storage_url(settings.storage_url)
    except StorageConfigError as error:
        raise ValueError(str(error)) from None
    if settings.pullthrough_memory < 0:
        raise ValueError("pullthrough_memory is a number of bytes, 0 or more")
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
        values.update({key: _coerce(key, value) for key, value in document.items()})
    for name in names:
        raw = environ.get(f"REGD_{name.upper()}")
        if raw:
            values[name] = _coerce(name, raw)
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    return _validate(replace(Settings(), **values))
