"""Contexts (named servers) in a YAML file, and where their credentials are kept.

The config file lives in the platformdirs user config dir (``REGCTL_CONFIG`` overrides the
path)::

    current-context: reg.example.com
    contexts:
      reg.example.com:
        server: https://reg.example.com
        username: alice
        credential-store: file

Credentials are kept by a ``CredentialStore``; the context records which one. Today there is
one kind, ``file`` (``credentials.yaml`` beside the config, mode 0600); a keyring store
slots in by adding a class to ``STORES`` and choosing it at login.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from regctl.errors import UsageError
from regctl.options import DEFAULT_SERVER, env, say

_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


def config_path() -> Path:
    explicit = env("REGCTL_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("regctl", appauthor=False)) / "config.yaml"


def normalize_server(url: str) -> str:
    """``localhost:5000`` -> ``http://localhost:5000``; ``reg.example.com`` -> ``https://...``.

    Without a scheme, loopback hosts get ``http`` and any other host ``https``. A trailing
    slash is dropped.
    """
    text = url.strip().rstrip("/")
    if "://" not in text:
        host = urlsplit("//" + text).hostname or ""
        text = ("http://" if host in _LOOPBACK or host.startswith("127.") else "https://") + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"invalid server URL {url!r}: expected http(s)://HOST[:PORT]")
    try:
        parts.port  # noqa: B018 -- validates the port
    except ValueError:
        raise UsageError(f"invalid port in server URL {url!r}") from None
    return text


def context_name(server: str) -> str:
    """A context is named after the server's host (and port)."""
    return urlsplit(server).netloc


# -- YAML files ----------------------------------------------------------------------------


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise UsageError(f"cannot parse {path}: {where}{error.problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"cannot parse {path}: expected a mapping at the top")
    return data


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write atomically: a new file with ``mode`` from the start, renamed over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _dump(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


# -- contexts ------------------------------------------------------------------------------


@dataclass
class Context:
    name: str
    server: str
    username: str | None = None
    credential_store: str = "file"

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"server": self.server}
        if self.username:
            entry["username"] = self.username
        entry["credential-store"] = self.credential_store
        return entry


@dataclass
class Config:
    path: Path
    contexts: dict[str, Context] = field(default_factory=dict)
    current: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        path = path or config_path()
        if not path.exists():
            return cls(path)
        data = _read_yaml(path)
        contexts: dict[str, Context] = {}
        for name, entry in (data.get("contexts") or {}).items():
            if not isinstance(entry, dict) or not entry.get("server"):
                raise UsageError(f"cannot parse {path}: context {name!r} has no server")
            contexts[str(name)] = Context(
                name=str(name),
                server=str(entry["server"]),
                username=entry.get("username"),
                credential_store=str(entry.get("credential-store", "file")),
            )
        current = data.get("current-context")
        return cls(path, contexts, str(current) if current else None)

    def save(self) -> None:
        data: dict[str, Any] = {}
        if self.current:
            data["current-context"] = self.current
        data["contexts"] = {name: ctx.as_dict() for name, ctx in self.contexts.items()}
        _write_private(self.path, _dump(data), 0o600)

    @property
    def current_context(self) -> Context | None:
        return self.contexts.get(self.current) if self.current else None

    def for_server(self, server: str) -> Context | None:
        """The context of ``server``: the current one if it matches, else the first that does."""
        current = self.current_context
        if current is not None and current.server == server:
            return current
        return next((ctx for ctx in self.contexts.values() if ctx.server == server), None)

    def store(self, context: Context) -> CredentialStore:
        kind = STORES.get(context.credential_store)
        if kind is None:
            raise UsageError(
                f"context {context.name!r} keeps its credentials in "
                f"{context.credential_store!r}, which this regctl does not know"
            )
        return kind(self)


# -- credentials ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What goes into the Authorization header: a bearer token, or username and password."""

    username: str | None = None
    password: str | None = None
    token: str | None = None


class CredentialStore(Protocol):
    """Where a context's secrets live. ``location`` is said to the user at login."""

    kind: str

    def __init__(self, config: Config) -> None: ...

    @property
    def location(self) -> str: ...

    def get(self, context: str) -> Credentials | None: ...

    def put(self, context: str, credentials: Credentials) -> None: ...

    def delete(self, context: str) -> bool: ...


class FileStore:
    """``credentials.yaml`` beside the config file, mode 0600, one entry per context."""

    kind = "file"

    def __init__(self, config: Config) -> None:
        self.path = config.path.with_name("credentials.yaml")

    @property
    def location(self) -> str:
        return f"{self.path} (mode 0600)"

    def _entries(self) -> dict[str, Any]:
        if self.path.exists():
            mode = stat.S_IMODE(self.path.stat().st_mode)
            if mode & 0o077:
                say(f"warning: {self.path} is readable by others (mode {mode:04o}); chmod 600 it")
        entries = _read_yaml(self.path).get("contexts") or {}
        return dict(entries) if isinstance(entries, dict) else {}

    def get(self, context: str) -> Credentials | None:
        entry = self._entries().get(context)
        if not isinstance(entry, dict):
            return None
        return Credentials(
            username=entry.get("username"), password=entry.get("password"), token=entry.get("token")
        )

    def put(self, context: str, credentials: Credentials) -> None:
        entries = self._entries()
        entries[context] = {
            key: value
            for key, value in (
                ("username", credentials.username),
                ("password", credentials.password),
                ("token", credentials.token),
            )
            if value is not None
        }
        self._save(entries)

    def delete(self, context: str) -> bool:
        entries = self._entries()
        if entries.pop(context, None) is None:
            return False
        self._save(entries)
        return True

    def _save(self, entries: dict[str, Any]) -> None:
        header = "# regctl credentials: keep this file private (mode 0600)\n"
        _write_private(self.path, header + _dump({"contexts": entries}), 0o600)


#: credential-store kind -> class. A keyring store goes here.
STORES: dict[str, type[CredentialStore]] = {"file": FileStore}
DEFAULT_STORE = "file"


# -- what a command talks to ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    server: str
    credentials: Credentials | None
    context: str | None


def resolve(server_option: str | None) -> Target:
    """The server (``--server``, ``REGCTL_SERVER``, current context, default) and credentials.

    Credentials: ``REGCTL_TOKEN``, else ``REGCTL_USERNAME`` + ``REGCTL_PASSWORD``, else those
    stored for a context whose server is the one we talk to (never another server's).
    """
    config = Config.load()
    explicit = server_option or env("REGCTL_SERVER")
    if explicit:
        server = normalize_server(explicit)
    elif config.current_context is not None:
        server = config.current_context.server
    else:
        server = DEFAULT_SERVER
    context = config.for_server(server)
    credentials: Credentials | None
    token, username, password = env("REGCTL_TOKEN"), env("REGCTL_USERNAME"), env("REGCTL_PASSWORD")
    if token:
        credentials = Credentials(token=token)
    elif username and password:
        credentials = Credentials(username=username, password=password)
    elif context is not None:
        credentials = config.store(context).get(context.name)
    else:
        credentials = None
    return Target(server, credentials, context.name if context else None)
