"""Envelope encryption: each secret has its own AES-256-GCM data key, wrapped by a master key.

Master keys live in ``DATA_DIR/keys/master-<id>.key`` (0600, base64) or in
``REGD_MASTER_KEY`` (base64; a comma-separated list during a rotation, newest first).
Rotating re-wraps the data keys only: no secret is re-encrypted and nothing stops.
The database records which master keys it holds secrets for (regd.strongbox.records).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
_WRAP_AAD = b"regd-strongbox-data-key"
_CHECK_LABEL = b"regd-master-key-check"


class MasterKeyError(Exception):
    """A master key is missing or wrong: nothing can be decrypted."""


@dataclass(frozen=True, slots=True)
class Sealed:
    ciphertext: bytes
    wrapped_key: bytes
    master_key_id: str


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _decode(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise MasterKeyError("a master key is 32 bytes in base64") from None
    if len(key) != 32:
        raise MasterKeyError("a master key is 32 bytes in base64")
    return key


class MasterKeys:
    def __init__(self, directory: Path, from_env: str | None = None) -> None:
        self._directory = directory
        self._from_env = from_env
        self._keys: dict[str, bytes] = {}
        self.current_id = ""

    @property
    def managed_by_env(self) -> bool:
        return bool(self._from_env)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def check_value(self, wanted: str) -> str:
        """What the database records for master key ``wanted``: an HMAC made with the key
        (so a wrong key is told apart from the right one without storing either)."""
        return hmac.new(self._key(wanted), _CHECK_LABEL, hashlib.sha256).hexdigest()

    def load(self) -> None:
        """Read the keys (from REGD_MASTER_KEY, or the key files); creates none: with no
        key at all ``current_id`` is empty (:func:`regd.strongbox.records.agree` decides)."""
        if self._from_env:
            keys = [_decode(part) for part in self._from_env.split(",") if part.strip()]
            if not keys:
                raise MasterKeyError("a master key is 32 bytes in base64")
            self._keys = {key_id(key): key for key in keys}
            self.current_id = key_id(keys[0])
            return
        files = (
            sorted(self._directory.glob("master-*.key"), key=lambda path: path.stat().st_mtime)
            if self._directory.is_dir()
            else []
        )
        self._keys = {}
        self.current_id = ""
        for path in files:
            key = _decode(path.read_text())
            self._keys[key_id(key)] = key
            self.current_id = key_id(key)

    def create(self) -> str:
        """A new master key file, which becomes current; its id."""
        key = AESGCM.generate_key(bit_length=256)
        new_id = key_id(key)
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._directory / f"master-{new_id}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(base64.b64encode(key).decode() + "\n")
        now = time.time()
        os.utime(path, (now, now))
        self._keys[new_id] = key
        self.current_id = new_id
        return new_id

    def remove_all_but_current(self) -> list[str]:
        removed = []
        for old_id in [k for k in self._keys if k != self.current_id]:
            (self._directory / f"master-{old_id}.key").unlink(missing_ok=True)
            del self._keys[old_id]
            removed.append(old_id)
        return removed

    def _key(self, wanted: str) -> bytes:
        key = self._keys.get(wanted)
        if key is None:
            self.load()  # rotated by another process
            key = self._keys.get(wanted)
        if key is None:
            raise MasterKeyError(f"master key {wanted} is not available")
        return key

    def seal(self, plaintext: bytes, aad: bytes) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
        return Sealed(ciphertext, self._wrap(data_key), self.current_id)

    def open(self, sealed: Sealed, aad: bytes) -> bytes:
        data_key = self._unwrap(sealed.wrapped_key, sealed.master_key_id)
        try:
            return AESGCM(data_key).decrypt(
                sealed.ciphertext[:_NONCE], sealed.ciphertext[_NONCE:], aad
            )
        except InvalidTag:
            raise MasterKeyError("a secret failed its integrity check") from None

    def rewrap(self, sealed: Sealed) -> Sealed:
        """The same ciphertext with its data key wrapped by the current master key."""
        data_key = self._unwrap(sealed.wrapped_key, sealed.master_key_id)
        return Sealed(sealed.ciphertext, self._wrap(data_key), self.current_id)

    def _wrap(self, data_key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(self._key(self.current_id)).encrypt(nonce, data_key, _WRAP_AAD)

    def _unwrap(self, wrapped: bytes, master_id: str) -> bytes:
        try:
            return AESGCM(self._key(master_id)).decrypt(
                wrapped[:_NONCE], wrapped[_NONCE:], _WRAP_AAD
            )
        except InvalidTag:
            raise MasterKeyError(f"master key {master_id} does not open this secret") from None
