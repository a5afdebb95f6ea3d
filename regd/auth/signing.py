"""Registry-token signing keys (ES256), kept as 0600 PEM files in the data directory.

``keys/token-<kid>.pem``: the newest file signs; every file verifies, so a rotation keeps
tokens signed by the previous key valid until they expire. ``prune()`` drops keys older
than the longest token lifetime once a newer key exists.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    private: ec.EllipticCurvePrivateKey
    created: float


def _kid(key: ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b32encode(hashlib.sha256(public).digest()[:15]).decode().lower()


class SigningKeys:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._keys: dict[str, _Key] = {}
        self._current: _Key | None = None
        self._last_reload = 0.0

    def _reload_allowed(self) -> bool:
        """At most one re-read of the key directory per second (unknown kids are cheap to send)."""
        now = time.monotonic()
        if now - self._last_reload < 1.0:
            return False
        self._last_reload = now
        return True

    def load(self) -> None:
        """Read every key; create the first one when there is none."""
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = []
        for path in sorted(self._directory.glob("token-*.pem")):
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(private, ec.EllipticCurvePrivateKey):
                keys.append(_Key(_kid(private), private, path.stat().st_mtime))
        if not keys:
            keys.append(self.rotate())
        self._keys = {key.kid: key for key in keys}
        self._current = max(keys, key=lambda key: key.created)

    def rotate(self) -> _Key:
        """Create a new signing key; older keys keep verifying."""
        private = ec.generate_private_key(ec.SECP256R1())
        key = _Key(_kid(private), private, time.time())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self._directory / f"token-{key.kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        self._keys[key.kid] = key
        self._current = key
        return key

    def prune(self, max_token_lifetime: float) -> list[str]:
        """Delete keys that no unexpired token can have been signed with.

        A key signs until the next newer key appears; once that is longer ago than the
        longest token lifetime, nothing it signed is still valid.
        """
        ordered = sorted(self._keys.values(), key=lambda key: key.created)
        removed = []
        for older, newer in itertools.pairwise(ordered):
            if newer.created < time.time() - max_token_lifetime:
                (self._directory / f"token-{older.kid}.pem").unlink(missing_ok=True)
                del self._keys[older.kid]
                removed.append(older.kid)
        return removed

    def sign(self, claims: dict[str, Any]) -> str:
        assert self._current is not None, "load() first"
        return jwt.encode(
            claims, self._current.private, algorithm=ALGORITHM, headers={"kid": self._current.kid}
        )

    def needs_reload(self, token: str) -> bool:
        """Whether ``token`` names a key not loaded here and a re-read is due: the caller
        runs :meth:`load` in a worker thread, off the event loop, before :meth:`verify`."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            return False
        return isinstance(kid, str) and kid not in self._keys and self._reload_allowed()

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The claims of a valid, unexpired token; raises ``jwt.InvalidTokenError`` otherwise."""
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("no key id")
        key = self._keys.get(kid)
        if key is None and self._reload_allowed():
            # Rotated by `regd rotate-keys` (or another replica): pick up the new files.
            self.load()
            key = self._keys.get(kid)
        if key is None:
            raise jwt.InvalidTokenError("unknown signing key")
        claims: dict[str, Any] = jwt.decode(
            token,
            key.private.public_key(),
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
        return claims
