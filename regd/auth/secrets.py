"""Hashing and generating secrets: argon2id for passwords, sha256 for random tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id, the library's (RFC 9106 low-memory) defaults
_LOWER_ALNUM = string.ascii_lowercase + string.digits


async def hash_password(password: str) -> str:
    """argon2id, off the event loop (it is slow on purpose)."""
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


def random_id(prefix: str, length: int) -> str:
    """``prefix`` + ``length`` random lowercase letters and digits (``cli-ab12c``)."""
    return prefix + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(length))


def random_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(secret: str) -> str:
    """Random tokens have full entropy: a plain sha256 is enough at rest."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
