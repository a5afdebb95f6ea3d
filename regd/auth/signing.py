"""Registry-token signing keys (ES256), shared by every replica through the database.

The keys are rows of ``signing_keys``, each PEM sealed with the Strongbox master key (the
store, :class:`regd.strongbox.sealed_keys.SealedKeyStore`, is handed in: this module knows
no database and no master key). The newest key signs; every key verifies, so a rotation
keeps tokens signed by the previous key valid until they expire. ``prune()`` drops keys
older than the longest token lifetime once a newer key exists.

Replicas: the key set is one :class:`regd.caching.Cache` entry checked against the
``signing-keys`` generation before each signature (PostgreSQL), so a rotation made through
any replica (or ``regd rotate-keys``) is signed with from the next token on, and a token
naming a key not loaded here makes a re-read (at most one a second). Before revision 0018
the keys were files, ``keys/token-<kid>.pem``: the first start that finds no key in the
database imports them, and deletes each file once its key is stored.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from regd.caching import Cache

ALGORITHM = "ES256"
#: SQLite has no generation to check: a key set is re-read after this many seconds (a
#: rotation by `regd rotate-keys` beside a running regd signs within a minute).
REREAD_AFTER: Final = 60.0
_ALL: Final = "all"

#: A stored key: key id, PKCS#8 PEM (unencrypted: the store seals it), creation time.
KeyRow = tuple[str, bytes, float]


class KeyStore(Protocol):
    async def generation(self) -> int | None: ...
    async def read(self) -> list[KeyRow]: ...
    async def create_first(self, make: Callable[[], Sequence[KeyRow]]) -> bool: ...
    async def add(self, row: KeyRow) -> None: ...
    async def remove(self, kids: Sequence[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    private: ec.EllipticCurvePrivateKey
    created: float


@dataclass(frozen=True, slots=True)
class _KeySet:
    keys: dict[str, _Key]
    current: _Key


def _kid(key: ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b32encode(hashlib.sha256(public).digest()[:15]).decode().lower()


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _private(pem: bytes) -> ec.EllipticCurvePrivateKey | None:
    private = serialization.load_pem_private_key(pem, password=None)
    return private if isinstance(private, ec.EllipticCurvePrivateKey) else None


def new_key() -> KeyRow:
    private = ec.generate_private_key(ec.SECP256R1())
    return _kid(private), _pem(private), time.time()


def _key_set(rows: Sequence[KeyRow]) -> _KeySet:
    keys = {}
    for kid, pem, created in rows:
        private = _private(pem)
        if private is not None:
            keys[kid] = _Key(kid, private, created)
    if not keys:
        raise RuntimeError("no signing key is stored")
    return _KeySet(keys, max(keys.values(), key=lambda key: key.created))


def _key_files(directory: Path | None) -> list[tuple[Path, KeyRow]]:
    """The key files of a regd from before revision 0018 (none: nothing to import)."""
    if directory is None or not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("token-*.pem")):
        pem = path.read_bytes()
        private = _private(pem)
        if private is not None:
            found.append((path, (_kid(private), pem, path.stat().st_mtime)))
    return found


class SigningKeys:
    def __init__(self, store: KeyStore, files: Path | None = None) -> None:
        """``files``: the directory whose ``token-*.pem`` files are imported, if any."""
        self._store = store
        self._files = files
        self._cache: Cache[str, _KeySet] = Cache(1, ttl=REREAD_AFTER)
        self._loaded: _KeySet | None = None
        self._last_reload = 0.0

    def _reload_allowed(self) -> bool:
        """At most one re-read for unknown kids a second (unknown kids are cheap to send)."""
        now = time.monotonic()
        if now - self._last_reload < 1.0:
            return False
        self._last_reload = now
        return True

    async def load(self) -> None:
        """Read every key; the first start imports the old key files or creates a key.
        Replicas starting at once store one key set: the first to take the lock."""
        generation = await self._store.generation()
        rows = await self._store.read()
        # Old key files: looked for at this process's first load only.
        files = await asyncio.to_thread(_key_files, self._files) if self._loaded is None else []
        if not rows:
            imported = [row for _, row in files]
            await self._store.create_first(lambda: imported or [new_key()])
            rows = await self._store.read()
        stored = {row[0] for row in rows}
        for path, (kid, _, _) in files:
            if kid in stored:  # imported (now or by an earlier start): one copy is enough
                path.unlink(missing_ok=True)
        self._loaded = _key_set(rows)
        self._cache.put(_ALL, self._loaded, generation)

    async def _fresh(self) -> _KeySet:
        """The key set, re-read when another replica changed it (or it is old)."""
        found = self._cache.get(_ALL, await self._store.generation())
        if found is None:
            await self.load()
            assert self._loaded is not None
            found = self._loaded
        return found

    async def rotate(self) -> str:
        """Store a new signing key, the one that signs from now on; its kid."""
        row = new_key()
        await self._store.add(row)
        self._cache.clear()
        await self.load()
        return row[0]

    async def prune(self, max_token_lifetime: float) -> list[str]:
        """Delete keys that no unexpired token can have been signed with.

        A key signs until the next newer key appears; once that is longer ago than the
        longest token lifetime, nothing it signed is still valid.
        """
        self._cache.clear()
        keys = await self._fresh()
        ordered = sorted(keys.keys.values(), key=lambda key: key.created)
        cutoff = time.time() - max_token_lifetime
        pairs = itertools.pairwise(ordered)
        removed = [older.kid for older, newer in pairs if newer.created < cutoff]
        await self._store.remove(removed)
        self._cache.clear()
        await self.load()
        return removed

    @property
    def kids(self) -> list[str]:
        """The kids loaded here, oldest first."""
        assert self._loaded is not None, "load() first"
        return [key.kid for key in sorted(self._loaded.keys.values(), key=lambda k: k.created)]

    async def sign(self, claims: dict[str, Any]) -> str:
        current = (await self._fresh()).current
        headers = {"kid": current.kid}
        return jwt.encode(claims, current.private, algorithm=ALGORITHM, headers=headers)

    def needs_reload(self, token: str) -> bool:
        """Whether ``token`` names a key not loaded here and a re-read is due: the caller
        awaits :meth:`reload` before :meth:`verify`."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            return False
        known = self._loaded is not None and kid in self._loaded.keys
        return isinstance(kid, str) and not known and self._reload_allowed()

    async def reload(self) -> None:
        """Read the keys again (rotated through another replica or `regd rotate-keys`)."""
        self._cache.clear()
        await self.load()

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The claims of a valid, unexpired token; raises ``jwt.InvalidTokenError`` otherwise."""
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("no key id")
        key = self._loaded.keys.get(kid) if self._loaded is not None else None
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
