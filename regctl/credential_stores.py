"""Where a context's credentials are kept, and what they are.

The context records which store: ``keyring`` (the OS keyring, through the ``keyring``
library) or ``file`` (``credentials.yaml`` beside the config, mode 0600), used where no
keyring backend works (headless CI). ``regctl login`` stores a personal access token, never
the password. ``keyring`` is imported only when a keyring is asked for: it costs tens of
milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import stat
from dataclasses import dataclass, field
from typing import Any, Protocol

from regctl.config import Config, Context, dump_yaml, read_yaml, write_private
from regctl.runtime import say


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
        entries = read_yaml(self.path).get("contexts") or {}
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
        write_private(self.path, header + dump_yaml({"contexts": entries}), 0o600)


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
