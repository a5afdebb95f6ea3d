"""Users and API clients: creation, secrets, lookup."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.auth.capabilities import CAPABILITIES, PULL, Grant, grant
from regd.auth.generation import auth_write
from regd.auth.principals import Principal
from regd.auth.secrets import (
    hash_password,
    random_id,
    random_secret,
    same_hash,
    token_hash,
    verify_password,
)
from regd.db import Database
from regd.db.schema import (
    access_rules,
    api_clients,
    namespace_owners,
    policy_bindings,
    role_bindings,
    tokens,
    users,
)
from regd.errors import ErrorKind, RequestError

USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
API_CLIENT_ID = re.compile(r"cli-[a-z0-9]{5}")
MIN_PASSWORD_LENGTH = 8


class IdentityError(RequestError):
    """A request about identities that cannot be done (by its ErrorKind)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    admin: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class ApiClient:
    id: str
    description: str
    owner: str | None
    namespace: str | None
    grants: list[dict[str, Any]] = field(default_factory=list)
    expires_at: float | None = None
    created_at: float = 0.0

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or time.time())

    def as_grants(self) -> list[Grant]:
        return [grant(item["capabilities"], item["repositories"]) for item in self.grants]


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise IdentityError(
            ErrorKind.INVALID, f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        )


def normalize_grants(raw: Any) -> list[dict[str, Any]]:
    """Validate ``[{"capabilities": [...], "repositories": [...]}]`` (default: pull on nothing)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise IdentityError(ErrorKind.INVALID, "grants must be a list")
    result = []
    for item in raw:
        if not isinstance(item, dict):
            raise IdentityError(ErrorKind.INVALID, "each grant is an object")
        capabilities = item.get("capabilities", [PULL])
        repositories = item.get("repositories")
        if not isinstance(capabilities, list) or not set(capabilities) <= CAPABILITIES:
            raise IdentityError(
                ErrorKind.INVALID, f"capabilities must be among {', '.join(sorted(CAPABILITIES))}"
            )
        if (
            not isinstance(repositories, list)
            or not repositories
            or not all(isinstance(glob, str) and glob for glob in repositories)
        ):
            raise IdentityError(
                ErrorKind.INVALID, "repositories must be a non-empty list of names or globs"
            )
        result.append({"capabilities": sorted(set(capabilities)), "repositories": repositories})
    return result


class Identities:
    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def db(self) -> Database:
        return self._db

    # -- users ---------------------------------------------------------------

    async def bootstrap_admin(self, password: str | None) -> str | None:
        """Create ``admin`` when no user exists; the generated password, if one was made."""
        async with self._db.read() as conn:
            if await conn.scalar(sa.select(sa.func.count()).select_from(users)):
                return None
        generated = None
        if not password:
            generated = password = random_secret(18)
        try:
            await self.create_user("admin", password, admin=True)
        except (IdentityError, sa.exc.IntegrityError):
            # Another replica starting at the same time (PostgreSQL) created it first.
            async with self._db.read() as conn:
                if await conn.scalar(sa.select(users.c.name).where(users.c.name == "admin")):
                    return None
            raise
        return generated

    async def create_user(self, name: str, password: str, admin: bool = False) -> User:
        user, password_hash = await self.new_user(name, password, admin)
        async with self._db.write() as conn:
            await self.add_user(conn, user, password_hash)
        return user

    async def new_user(self, name: str, password: str, admin: bool = False) -> tuple[User, str]:
        """A user checked and its password hashed (slow: outside any transaction)."""
        if not USER_NAME.fullmatch(name) or API_CLIENT_ID.fullmatch(name):
            raise IdentityError(
                ErrorKind.INVALID, f"invalid user name {name!r}: [a-z0-9][a-z0-9._-]{{0,63}}"
            )
        _check_password(password)
        return User(name, admin, time.time()), await hash_password(password)

    async def add_user(self, conn: AsyncConnection, user: User, password_hash: str) -> None:
        """Store a user from :meth:`new_user` in the caller's transaction."""
        if await conn.scalar(sa.select(users.c.name).where(users.c.name == user.name)):
            raise IdentityError(ErrorKind.CONFLICT, f"user {user.name!r} exists")
        await conn.execute(
            sa.insert(users).values(
                name=user.name,
                password_hash=password_hash,
                admin=user.admin,
                created_at=user.created_at,
            )
        )

    async def users(self) -> list[User]:
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(users.c.name, users.c.admin, users.c.created_at).order_by(
                        users.c.name
                    )
                )
            ).all()
        return [User(row.name, bool(row.admin), row.created_at) for row in rows]

    async def user(self, name: str) -> User:
        for user in await self.users():
            if user.name == name:
                return user
        raise IdentityError(ErrorKind.NOT_FOUND, f"no user {name!r}")

    async def set_password(self, name: str, password: str) -> None:
        password_hash = await new_password_hash(password)
        async with auth_write(self._db) as conn:
            await self.store_password(conn, name, password_hash)

    async def store_password(self, conn: AsyncConnection, name: str, password_hash: str) -> None:
        """A user's new password hash, in the caller's auth transaction."""
        result = await conn.execute(
            sa.update(users).where(users.c.name == name).values(password_hash=password_hash)
        )
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, f"no user {name!r}")

    async def delete_user(self, name: str) -> None:
        if name == "admin":
            raise IdentityError(ErrorKind.CONFLICT, "the admin user cannot be deleted")
        async with auth_write(self._db) as conn:
            result = await conn.execute(sa.delete(users).where(users.c.name == name))
            if result.rowcount:
                await _forget_principal(conn, "user", name)
                await conn.execute(
                    sa.delete(namespace_owners).where(namespace_owners.c.owner == name)
                )
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, f"no user {name!r}")

    # -- API clients ---------------------------------------------------------

    async def create_api_client(
        self,
        description: str = "",
        owner: str | None = None,
        grants: Any = None,
        namespace: str | None = None,
        expires_at: float | None = None,
    ) -> tuple[ApiClient, str]:
        """A new robot and its secret (shown once)."""
        async with self._db.write() as conn:
            return await self.add_api_client(
                conn, description, owner, grants, namespace, expires_at
            )

    async def add_api_client(
        self,
        conn: AsyncConnection,
        description: str = "",
        owner: str | None = None,
        grants: Any = None,
        namespace: str | None = None,
        expires_at: float | None = None,
    ) -> tuple[ApiClient, str]:
        """Like :meth:`create_api_client`, in the caller's transaction."""
        secret = random_secret(24)
        checked = normalize_grants(grants)
        while True:
            client_id = random_id("cli-", 5)
            if not await conn.scalar(
                sa.select(api_clients.c.id).where(api_clients.c.id == client_id)
            ):
                break
        client = ApiClient(
            client_id, description, owner, namespace, checked, expires_at, time.time()
        )
        await conn.execute(
            sa.insert(api_clients).values(
                id=client.id,
                description=description,
                secret_hash=token_hash(secret),
                owner=owner,
                namespace=namespace,
                grants=checked,
                expires_at=expires_at,
                created_at=client.created_at,
            )
        )
        return client, secret

    async def api_clients(self, owner: str | None = None) -> list[ApiClient]:
        query = sa.select(api_clients).order_by(api_clients.c.id)
        if owner is not None:
            query = query.where(api_clients.c.owner == owner)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_api_client(row) for row in rows]

    async def api_client(self, client_id: str) -> ApiClient:
        async with self._db.read() as conn:
            row = (
                await conn.execute(sa.select(api_clients).where(api_clients.c.id == client_id))
            ).first()
        if row is None:
            raise IdentityError(ErrorKind.NOT_FOUND, f"no API client {client_id!r}")
        return _api_client(row)

    async def reset_secret(self, conn: AsyncConnection, client_id: str) -> str:
        """A new secret for an API client, in the caller's auth transaction."""
        secret = random_secret(24)
        result = await conn.execute(
            sa.update(api_clients)
            .where(api_clients.c.id == client_id)
            .values(secret_hash=token_hash(secret))
        )
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, f"no API client {client_id!r}")
        return secret

    async def delete_api_client(self, client_id: str) -> None:
        async with auth_write(self._db) as conn:
            result = await conn.execute(sa.delete(api_clients).where(api_clients.c.id == client_id))
            if result.rowcount:
                await _forget_principal(conn, "api-client", client_id)
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, f"no API client {client_id!r}")

    # -- authentication ------------------------------------------------------

    async def check_password(self, name: str, password: str) -> Principal | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(users.c.password_hash, users.c.admin).where(users.c.name == name)
                )
            ).first()
        if row is None:
            await hash_password(password)  # same cost whether or not the user exists
            return None
        if not await verify_password(row.password_hash, password):
            return None
        return Principal("user", name, admin=bool(row.admin))

    async def check_api_client(self, client_id: str, secret: str) -> Principal | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(api_clients.c.secret_hash, api_clients.c.expires_at).where(
                        api_clients.c.id == client_id
                    )
                )
            ).first()
        if row is None or not same_hash(row.secret_hash, token_hash(secret)):
            return None
        if row.expires_at is not None and row.expires_at <= time.time():
            return None
        return Principal("api-client", client_id)

    async def api_client_by_secret(self, secret: str) -> str | None:
        """The id of the unexpired API client whose secret this is (its full entropy makes
        the secret alone name it: docker login -u ANYNAME with a client's secret)."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(api_clients.c.id, api_clients.c.expires_at).where(
                        api_clients.c.secret_hash == token_hash(secret)
                    )
                )
            ).first()
        if row is None or (row.expires_at is not None and row.expires_at <= time.time()):
            return None
        return str(row.id)


async def _forget_principal(conn: AsyncConnection, kind: str, principal_id: str) -> None:
    """Drop the tokens and grants of a deleted principal: a later one of the same name
    (or, unlikely, the same API client id) starts with nothing."""
    for table in (tokens, policy_bindings, role_bindings, access_rules):
        await conn.execute(
            sa.delete(table)
            .where(table.c.principal_kind == kind)
            .where(table.c.principal_id == principal_id)
        )


async def new_password_hash(password: str) -> str:
    """The hash of an acceptable password (slow: outside any transaction)."""
    _check_password(password)
    return await hash_password(password)


def _api_client(row: Any) -> ApiClient:
    return ApiClient(
        row.id,
        row.description,
        row.owner,
        row.namespace,
        list(row.grants or []),
        row.expires_at,
        row.created_at,
    )
