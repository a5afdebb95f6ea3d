"""Opaque tokens: personal access tokens, short-lived session tokens and refresh tokens.

A token reads ``regd_<accessor>_<secret>``. The accessor names it in listings and
revocation; only a sha256 of the secret is stored.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.auth.generation import auth_write
from regd.auth.identities import IdentityError
from regd.auth.principals import Principal
from regd.auth.secrets import random_id, random_secret, same_hash, token_hash
from regd.db import Database
from regd.db.schema import tokens
from regd.durations import parse_duration
from regd.errors import ErrorKind

TokenKind = Literal["personal", "session", "refresh"]
_FORMAT: Final = re.compile(r"regd_([a-z0-9]{12})_([A-Za-z0-9_-]{20,})")
MAX_TTL: Final = 10 * 365 * 24 * 3600.0
_TTL: Final = re.compile(r"(\d+[ywdhms])+")


def parse_ttl(text: str) -> float:
    """``4h``, ``30m``, ``1y2d5h`` or plain seconds; an unlimited token is refused."""
    text = text.strip().lower()
    if not text.isdigit() and not _TTL.fullmatch(text):
        raise IdentityError(
            ErrorKind.INVALID, f"invalid ttl {text!r}: write it like 4h, 30m or 1y2d5h"
        )
    seconds = parse_duration(text)
    if seconds <= 0 or seconds > MAX_TTL:
        raise IdentityError(ErrorKind.INVALID, "a token's ttl must be positive and at most 10y")
    return seconds


def looks_like_token(secret: str) -> bool:
    return _FORMAT.fullmatch(secret) is not None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    kind: str
    principal_kind: str
    principal_id: str
    policies: list[str] | None
    expires_at: float
    revoked_at: float | None
    created_at: float


class Tokens:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        owner: Principal,
        kind: TokenKind,
        ttl: float,
        name: str = "",
        policies: list[str] | None = None,
        parent: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new token for ``owner`` and its value (shown once)."""
        if owner.anonymous:
            raise IdentityError(ErrorKind.UNAUTHORIZED, "tokens are for authenticated principals")
        if policies is not None:
            unknown = [policy for policy in policies if not isinstance(policy, str) or not policy]
            if unknown:
                raise IdentityError(ErrorKind.INVALID, "policies must be a list of policy names")
        # A token never holds more than the principal it was minted from.
        if owner.token_policies is not None:
            policies = [p for p in (policies or owner.token_policies) if p in owner.token_policies]
        accessor = random_id("", 12)
        secret = random_secret(32)
        now = time.time()
        info = TokenInfo(accessor, name, kind, owner.kind, owner.id, policies, now + ttl, None, now)
        async with self._db.write() as conn:
            await conn.execute(
                sa.insert(tokens).values(
                    id=accessor,
                    name=name,
                    kind=kind,
                    principal_kind=owner.kind,
                    principal_id=owner.id,
                    secret_hash=token_hash(secret),
                    parent=parent,
                    policies=policies,
                    expires_at=info.expires_at,
                    created_at=now,
                )
            )
        return info, f"regd_{accessor}_{secret}"

    async def check(
        self, value: str, kinds: tuple[str, ...] = ("personal", "session")
    ) -> TokenInfo | None:
        """The token's record when ``value`` is valid, unexpired and unrevoked."""
        match = _FORMAT.fullmatch(value)
        if match is None:
            return None
        accessor, secret = match.groups()
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(tokens).where(tokens.c.id == accessor))).first()
        if (
            row is None
            or row.kind not in kinds
            or not same_hash(row.secret_hash, token_hash(secret))
        ):
            return None
        if row.revoked_at is not None or row.expires_at <= time.time():
            return None
        if row.parent is not None and not await self._alive(row.parent):
            return None
        return _info(row)

    async def _alive(self, accessor: str) -> bool:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(tokens.c.revoked_at, tokens.c.expires_at).where(
                        tokens.c.id == accessor
                    )
                )
            ).first()
        return row is not None and row.revoked_at is None and row.expires_at > time.time()

    async def revoke_sessions(
        self, conn: AsyncConnection, principal_kind: str, principal_id: str
    ) -> int:
        """Revoke the refresh tokens (login sessions) of a principal, after a credential
        change, in the caller's auth transaction."""
        result = await conn.execute(
            sa.update(tokens)
            .where(tokens.c.principal_kind == principal_kind)
            .where(tokens.c.principal_id == principal_id)
            .where(tokens.c.kind == "refresh")
            .where(tokens.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
        return int(result.rowcount or 0)

    async def list(
        self, principal_kind: str | None = None, principal_id: str | None = None
    ) -> list[TokenInfo]:
        query = sa.select(tokens).order_by(tokens.c.created_at)
        if principal_kind is not None:
            query = query.where(tokens.c.principal_kind == principal_kind)
        if principal_id is not None:
            query = query.where(tokens.c.principal_id == principal_id)
        async with self._db.read() as conn:
            return [_info(row) for row in (await conn.execute(query)).all()]

    async def get(self, accessor: str) -> TokenInfo:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(tokens).where(tokens.c.id == accessor))).first()
        if row is None:
            raise IdentityError(ErrorKind.NOT_FOUND, f"no token {accessor!r}")
        return _info(row)

    async def revoke(self, accessor: str) -> None:
        async with auth_write(self._db) as conn:
            result = await conn.execute(
                sa.update(tokens)
                .where(tokens.c.id == accessor)
                .where(tokens.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, f"no active token {accessor!r}")


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.name,
        row.kind,
        row.principal_kind,
        row.principal_id,
        list(row.policies) if row.policies is not None else None,
        row.expires_at,
        row.revoked_at,
        row.created_at,
    )
