"""A keyring backend that keeps its entries in a JSON file, for testing regctl's keyring
store where no OS keyring runs (CI has no Secret Service, no D-Bus session).

keyring loads it like any backend, from ``PYTHON_KEYRING_BACKEND=
tests.cli.keyring_backend.FileKeyring``; the file is ``$REGCTL_TEST_KEYRING``. regctl
talks to it through the keyring library exactly as it talks to the Secret Service.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]  # a class attribute, not keyring's classproperty

    @property
    def _path(self) -> Path:
        return Path(os.environ["REGCTL_TEST_KEYRING"])

    def _entries(self) -> dict[str, str]:
        try:
            entries: dict[str, str] = json.loads(self._path.read_text())
        except FileNotFoundError:
            return {}
        return entries

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._entries()
        entries[f"{service}/{username}"] = password
        self._path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(f"no {service}/{username}")
        self._path.write_text(json.dumps(entries))
