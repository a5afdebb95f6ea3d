"""Vaults and their secrets: CRUD over sealed key/value data."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import secrets, vaults
from regd.errors import ErrorKind, RequestError
from regd.strongbox.crypto import MasterKeys, Sealed
from regd.strongbox.rewrap import rewrap_table

NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?")


class StrongboxError(RequestError):
    """A Strongbox request that cannot be done (by its ErrorKind)."""


@dataclass(frozen=True, slots=True)
class Vault:
    name: str
    distribute: Any
    created_at: float
    secret_count: int = 0


@dataclass(frozen=True, slots=True)
class Secret:
    vault: str
    name: str
    allow_image_access: list[str] | None
    keys: list[str]
    created_at: float
    updated_at: float
    #: Present only when read with ``reveal=True``.
    data: dict[str, str] | None = None
    base64_data: dict[str, str] | None = None


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise StrongboxError(
            ErrorKind.INVALID, f"invalid {kind} name {name!r}: lowercase letters, digits, . _ -"
        )
    return name


def _check_values(field: str, values: Any, base64_encoded: bool) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in values.items()
    ):
        raise StrongboxError(ErrorKind.INVALID, f"{field} maps key names to string values")
    if base64_encoded:
        for key, value in values.items():
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                raise StrongboxError(
                    ErrorKind.INVALID, f"{field}.{key} is not valid base64"
                ) from None
    return dict(values)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _aad(vault: str, name: str) -> bytes:
    return f"regd-secret:{vault}/{name}".encode()


class Vaults:
    def __init__(self, db: Database, keys: MasterKeys) -> None:
        self._db = db
        self._keys = keys

    # -- vaults --------------------------------------------------------------

    async def all(self) -> list[Vault]:
        count = sa.select(sa.func.count()).where(secrets.c.vault == vaults.c.name).scalar_subquery()
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(vaults, count.label("secret_count")).order_by(vaults.c.name)
                )
            ).all()
        return [Vault(r.name, r.distribute, r.created_at, r.secret_count) for r in rows]

    async def get(self, name: str) -> Vault:
        for vault in await self.all():
            if vault.name == name:
                return vault
        raise StrongboxError(ErrorKind.NOT_FOUND, f"no vault {name!r}")

    async def create(self, name: Any, distribute: Any = None, replace: bool = False) -> Vault:
        name = _check_name("vault", name)
        async with self._db.write() as conn:
            exists = await conn.scalar(sa.select(vaults.c.name).where(vaults.c.name == name))
            if exists and not replace:
                raise StrongboxError(ErrorKind.CONFLICT, f"vault {name!r} exists")
            if exists:
                await conn.execute(
                    sa.update(vaults).where(vaults.c.name == name).values(distribute=distribute)
                )
            else:
                await conn.execute(
                    sa.insert(vaults).values(
                        name=name, distribute=distribute, created_at=time.time()
                    )
                )
        return await self.get(name)

    async def delete(self, name: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(sa.delete(secrets).where(secrets.c.vault == name))
            result = await conn.execute(sa.delete(vaults).where(vaults.c.name == name))
        if not result.rowcount:
            raise StrongboxError(ErrorKind.NOT_FOUND, f"no vault {name!r}")

    # -- secrets -------------------------------------------------------------

    async def secrets(self, vault: str) -> list[Secret]:
        await self.get(vault)
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(secrets).where(secrets.c.vault == vault).order_by(secrets.c.name)
                )
            ).all()
        return [self._secret(row, reveal=False) for row in rows]

    async def secret(self, vault: str, name: str, reveal: bool = False) -> Secret:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(secrets).where(secrets.c.vault == vault).where(secrets.c.name == name)
                )
            ).first()
        if row is None:
            await self.get(vault)
            raise StrongboxError(ErrorKind.NOT_FOUND, f"no secret {name!r} in vault {vault!r}")
        return self._secret(row, reveal)

    async def put_secret(self, vault: str, body: dict[str, Any], create_only: bool) -> Secret:
        """Create (``create_only``) or replace a secret from its API body."""
        name = _check_name("secret", body.get("name"))
        data = _check_values("data", body.get("data"), base64_encoded=False)
        base64_data = _check_values("base64-data", body.get("base64-data"), base64_encoded=True)
        allow = body.get("allow-image-access")
        if allow is not None and (
            not isinstance(allow, list) or not all(isinstance(a, str) for a in allow)
        ):
            raise StrongboxError(ErrorKind.INVALID, "allow-image-access is a list of patterns")
        await self.get(vault)
        plaintext = json.dumps({"data": data, "base64-data": base64_data}).encode()
        sealed = self._keys.seal(plaintext, _aad(vault, name))
        now = time.time()
        values = {
            "allow_image_access": allow,
            "keys": sorted({*data, *base64_data}),
            "ciphertext": sealed.ciphertext,
            "wrapped_key": sealed.wrapped_key,
            "master_key_id": sealed.master_key_id,
            "updated_at": now,
        }
        async with self._db.write() as conn:
            exists = await conn.scalar(
                sa.select(secrets.c.name)
                .where(secrets.c.vault == vault)
                .where(secrets.c.name == name)
            )
            if exists and create_only:
                raise StrongboxError(
                    ErrorKind.CONFLICT, f"secret {name!r} exists in vault {vault!r}"
                )
            if exists:
                await conn.execute(
                    sa.update(secrets)
                    .where(secrets.c.vault == vault)
                    .where(secrets.c.name == name)
                    .values(**values)
                )
            else:
                await conn.execute(
                    sa.insert(secrets).values(vault=vault, name=name, created_at=now, **values)
                )
        return await self.secret(vault, name)

    async def merge_secret(self, vault: str, name: str, patch: dict[str, Any]) -> Secret:
        """Apply a JSON merge patch (RFC 7396) to a secret's body: ``{"data": {"k": "v"}}``
        sets one key and keeps the others, ``null`` removes a key. The secret must exist."""
        current = await self.secret(vault, name, reveal=True)
        body: dict[str, Any] = {"data": dict(current.data or {})}
        if current.base64_data:
            body["base64-data"] = dict(current.base64_data)
        if current.allow_image_access is not None:
            body["allow-image-access"] = list(current.allow_image_access)
        merged = merge_patch(body, patch)
        if merged.setdefault("name", name) != name:
            raise StrongboxError(ErrorKind.INVALID, "a merge patch cannot rename a secret")
        return await self.put_secret(vault, merged, create_only=False)

    async def delete_secret(self, vault: str, name: str) -> None:
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.delete(secrets).where(secrets.c.vault == vault).where(secrets.c.name == name)
            )
        if not result.rowcount:
            raise StrongboxError(ErrorKind.NOT_FOUND, f"no secret {name!r} in vault {vault!r}")

    async def values(self, vault: str, name: str) -> dict[str, str]:
        """Every value of a secret as text (base64-data decoded), for internal use."""
        secret = await self.secret(vault, name, reveal=True)
        result = dict(secret.data or {})
        for key, value in (secret.base64_data or {}).items():
            result[key] = base64.b64decode(value).decode(errors="replace")
        return result

    async def rewrap_all(self) -> int:
        """Re-wrap every data key under the current master key; how many."""
        return await rewrap_table(self._db, secrets, self._keys, ("vault", "name"))

    def _secret(self, row: Any, reveal: bool) -> Secret:
        data = base64_data = None
        if reveal:
            sealed = Sealed(row.ciphertext, row.wrapped_key, row.master_key_id)
            document = json.loads(self._keys.open(sealed, _aad(row.vault, row.name)))
            data, base64_data = document["data"], document["base64-data"]
        return Secret(
            row.vault,
            row.name,
            list(row.allow_image_access) if row.allow_image_access is not None else None,
            list(row.keys),
            row.created_at,
            row.updated_at,
            data,
            base64_data,
        )
