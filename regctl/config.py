"""Contexts (named servers) in a YAML file, and the YAML files regctl keeps.

The config file lives in the platformdirs user config dir (``REGCTL_CONFIG`` overrides the
path)::

    current-context: reg.example.com
    contexts:
      reg.example.com:
        server: https://reg.example.com
        username: alice
        credential-store: keyring

A context's credentials are kept by a credential store (:mod:`regctl.credential_stores`)
that the context names; :mod:`regctl.target` resolves what a command talks to.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from regctl.errors import UsageError
from regctl.runtime import env

if TYPE_CHECKING:
    from regctl.credential_stores import CredentialStore

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


def registry_host(server_url: str) -> str:
    """What docker calls a registry: ``host[:port]`` of a URL or of a bare ``host[:port]/...``."""
    text = server_url.strip()
    if "://" not in text:
        text = "//" + text
    return urlsplit(text).netloc.lower()


# -- YAML files ----------------------------------------------------------------------------


def read_yaml(path: Path) -> dict[str, Any]:
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


def write_private(path: Path, text: str, mode: int) -> None:
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


def dump_yaml(data: dict[str, Any]) -> str:
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
        data = read_yaml(path)
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
        write_private(self.path, dump_yaml(data), 0o600)

    @property
    def current_context(self) -> Context | None:
        return self.contexts.get(self.current) if self.current else None

    def for_host(self, host: str) -> Context | None:
        """The context whose server is ``host[:port]`` (the current one first)."""
        current = self.current_context
        candidates = [current] if current is not None else []
        candidates += [ctx for ctx in self.contexts.values() if ctx is not current]
        return next((ctx for ctx in candidates if registry_host(ctx.server) == host.lower()), None)

    def for_server(self, server: str) -> Context | None:
        """The context of ``server``: the current one if it matches, else the first that does."""
        current = self.current_context
        if current is not None and current.server == server:
            return current
        return next((ctx for ctx in self.contexts.values() if ctx.server == server), None)

    def store(self, context: Context) -> CredentialStore:
        from regctl.credential_stores import STORES

        kind = STORES.get(context.credential_store)
        if kind is None:
            raise UsageError(
                f"context {context.name!r} keeps its credentials in "
                f"{context.credential_store!r}, which this regctl does not know"
            )
        return kind(self)
