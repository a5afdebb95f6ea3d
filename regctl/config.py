"""Contexts (named servers) in a YAML file, and where their credentials are kept.

The config file lives in the platformdirs user config dir (``REGCTL_CONFIG`` overrides the
path)::

    current-context: reg.example.com
    contexts:
      reg.example.com:
        server: https://reg.example.com
        username: alice
        credential-store: keyring

Credentials are kept by a ``CredentialStore``; the context records which one: ``keyring``
(the OS keyring, through the ``keyring`` library) or ``file`` (``credentials.yaml`` beside
the config, mode 0600), used where no keyring backend works (headless CI). ``regctl login``
stores a personal access token, never the password. ``keyring`` is imported only when a
keyring is asked for: it costs tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from regctl.errors import UsageError
from regctl.runtime import DEFAULT_SERVER, env, say

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
        write_private(self.path, _dump(data), 0o600)

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
    """What goes into the Authorization header: a bearer token, or username and password.

    ``token_id`` is the accessor of a personal access token regctl created at login (so
    that logout can revoke it). A ``username`` of ``<token>`` marks ``password`` as an
    identity (refresh) token, as Docker's credential helpers do.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        pairs = (
            ("username", self.username),
            ("password", self.password),
            ("token", self.token),
            ("token-id", self.token_id),
        )
        return {key: value for key, value in pairs if value is not None}

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> Credentials:
        def text(key: str) -> str | None:
            value = entry.get(key)
            return None if value is None else str(value)

        return cls(text("username"), text("password"), text("token"), text("token-id"))

    @property
    def secret(self) -> str | None:
        """What a registry client sends as the password: the token, else the password."""
        return self.token or self.password


#: Docker's mark for an identity token in a credential helper's ``Username``.
IDENTITY_TOKEN_USER = "<token>"  # noqa: S105 -- a marker, not a secret


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
        return Credentials.from_dict(entry)

    def put(self, context: str, credentials: Credentials) -> None:
        entries = self._entries()
        entries[context] = credentials.as_dict()
        self._save(entries)

    def delete(self, context: str) -> bool:
        entries = self._entries()
        if entries.pop(context, None) is None:
            return False
        self._save(entries)
        return True

    def _save(self, entries: dict[str, Any]) -> None:
        header = "# regctl credentials: keep this file private (mode 0600)\n"
        write_private(self.path, header + _dump({"contexts": entries}), 0o600)


#: The keyring service name regctl's entries are filed under (the user is the context).
KEYRING_SERVICE = "regctl"


def working_keyring() -> Any | None:
    """The OS keyring backend, or None where none works.

    None when ``keyring`` picks its fail or null backend (headless CI, no D-Bus), when the
    best backend has no positive priority (a chainer with nothing to chain), or when
    asking raises. ``PYTHON_KEYRING_BACKEND`` chooses a backend, as keyring documents.
    """
    try:
        import keyring

        backend = keyring.get_keyring()
        priority = float(backend.priority)
    except Exception:  # any backend may fail in its own way: no keyring then
        return None
    if type(backend).__module__ in ("keyring.backends.fail", "keyring.backends.null"):
        return None
    return backend if priority > 0 else None


class KeyringStore:
    """The OS keyring (Secret Service, macOS Keychain, Windows Credential Locker...).

    One entry per context under the service ``regctl``; the secret is a JSON object.
    """

    kind = "keyring"

    def __init__(self, config: Config) -> None:
        self._backend: Any | None = None
        self._checked = False

    def _keyring(self) -> Any | None:
        if not self._checked:
            self._backend, self._checked = working_keyring(), True
        return self._backend

    @property
    def location(self) -> str:
        backend = self._keyring()
        name = getattr(type(backend), "name", type(backend).__name__) if backend else "none"
        return f"the system keyring ({name}, service {KEYRING_SERVICE!r})"

    def get(self, context: str) -> Credentials | None:
        backend = self._keyring()
        if backend is None:
            say(
                f"warning: context {context!r} keeps its credentials in the system keyring, "
                "and no keyring works here"
            )
            return None
        try:
            text = backend.get_password(KEYRING_SERVICE, context)
        except Exception as error:
            say(f"warning: cannot read the keyring: {error}")
            return None
        if not text:
            return None
        try:
            entry = json.loads(text)
        except ValueError:
            return None
        return Credentials.from_dict(entry) if isinstance(entry, dict) else None

    def put(self, context: str, credentials: Credentials) -> None:
        backend = self._keyring()
        if backend is None:
            raise StoreUnavailable("no system keyring works here")
        try:
            backend.set_password(KEYRING_SERVICE, context, json.dumps(credentials.as_dict()))
        except Exception as error:
            raise StoreUnavailable(f"the keyring refused to store: {error}") from error

    def delete(self, context: str) -> bool:
        backend = self._keyring()
        if backend is None:
            return False
        try:
            if backend.get_password(KEYRING_SERVICE, context) is None:
                return False
            backend.delete_password(KEYRING_SERVICE, context)
        except Exception:
            return False
        return True


class StoreUnavailable(Exception):
    """A credential store cannot keep anything here (no working keyring)."""


#: credential-store kind -> class.
STORES: dict[str, type[CredentialStore]] = {"file": FileStore, "keyring": KeyringStore}


def store_credentials(config: Config, context: Context, credentials: Credentials) -> str:
    """Keep ``credentials`` for ``context``: in the keyring when one works, else in the file.

    Sets ``context.credential_store``, removes a copy left in the other store, and returns
    where they went (for the one message that says so).
    """
    store: CredentialStore = KeyringStore(config)
    why = ""
    try:
        store.put(context.name, credentials)
    except StoreUnavailable as error:
        store, why = FileStore(config), f", as {error}"
        store.put(context.name, credentials)
    if context.credential_store != store.kind and context.credential_store in STORES:
        with contextlib.suppress(Exception):
            config.store(context).delete(context.name)
    context.credential_store = store.kind
    return store.location + why


# -- what a command talks to ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    server: str
    credentials: Credentials | None
    context: str | None
    #: Where the credentials came from: ``REGCTL_TOKEN``, ``REGCTL_USERNAME`` or ``stored``.
    source: str | None = None


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
    credentials: Credentials | None = None
    source: str | None = None
    token, username, password = env("REGCTL_TOKEN"), env("REGCTL_USERNAME"), env("REGCTL_PASSWORD")
    if token:
        credentials, source = Credentials(token=token), "REGCTL_TOKEN"
    elif username and password:
        credentials, source = Credentials(username=username, password=password), "REGCTL_USERNAME"
    elif context is not None:
        credentials = config.store(context).get(context.name)
        source = "stored" if credentials is not None else None
    return Target(server, credentials, context.name if context else None, source)
