"""Changes to users, API clients and tokens that take more than one step.

Each is one call, one transaction that bumps the ``auth`` generation (other replicas drop
what they cached), and then drops what this process cached: a failure in any step leaves
nothing behind, and no handler has to remember to forget cached credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from regd.auth.generation import auth_write
from regd.auth.grants import AccessRule, Grants
from regd.auth.identities import ApiClient, Identities, User, new_password_hash
from regd.auth.tokens import Tokens
from regd.db import Database


class Accounts:
    def __init__(
        self,
        db: Database,
        identities: Identities,
        tokens: Tokens,
        grants: Grants,
        forget_credentials: Callable[[], None],
    ) -> None:
        self._db = db
        self._identities = identities
        self._tokens = tokens
        self._grants = grants
        self._forget = forget_credentials

    async def create_user(
        self, name: str, password: str, admin: bool = False, policies: Sequence[str] = ()
    ) -> User:
        """A user and its policies, or (unknown policy, name taken) nothing at all."""
        user, password_hash = await self._identities.new_user(name, password, admin)
        async with auth_write(self._db) as conn:
            await self._identities.add_user(conn, user, password_hash)
            await self._grants.bind_policies(conn, list(policies), "user", name)
        self._grants.invalidate()
        return user

    async def change_password(self, name: str, password: str) -> None:
        """A new password ends the logins made with the old one."""
        password_hash = await new_password_hash(password)
        async with auth_write(self._db) as conn:
            await self._identities.store_password(conn, name, password_hash)
            await self._tokens.revoke_sessions(conn, "user", name)
        self._forget()

    async def delete_user(self, name: str) -> None:
        await self._identities.delete_user(name)
        self._forget()

    async def create_api_client(
        self,
        *,
        description: str,
        owner: str | None,
        grants: list[dict[str, Any]],
        namespace: str | None,
        role: str | None,
        expires_at: float | None,
    ) -> tuple[ApiClient, str]:
        """A robot (its secret shown once) and, with ``role`` and ``namespace``, its role
        binding (listed with the others)."""
        async with auth_write(self._db) as conn:
            client, secret = await self._identities.add_api_client(
                conn, description, owner, grants, namespace, expires_at
            )
            if role is not None and namespace:
                await self._grants.add_role_binding(conn, role, "api-client", client.id, namespace)
        self._grants.invalidate()
        return client, secret

    async def create_api_client_with_rule(
        self, *, description: str, owner: str | None, repository: str, actions: list[str]
    ) -> tuple[ApiClient, str, AccessRule]:
        """A robot holding one access rule, or (bad actions) nothing at all."""
        async with auth_write(self._db) as conn:
            client, secret = await self._identities.add_api_client(conn, description, owner)
            rule = await self._grants.add_access_rule(
                conn, repository, "api-client", client.id, actions
            )
        self._grants.invalidate()
        return client, secret, rule

    async def reset_secret(self, client_id: str) -> str:
        """A new secret, which ends the sessions opened with the old one."""
        async with auth_write(self._db) as conn:
            secret = await self._identities.reset_secret(conn, client_id)
            await self._tokens.revoke_sessions(conn, "api-client", client_id)
        self._forget()
        return secret

    async def delete_api_client(self, client_id: str) -> None:
        await self._identities.delete_api_client(client_id)
        self._forget()

    async def revoke_token(self, accessor: str) -> None:
        await self._tokens.revoke(accessor)
        self._forget()
