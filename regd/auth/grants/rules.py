"""Access rules (a principal's actions on one repository, or public pull) and ownership
(the user who created a namespace holds everything in it)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.auth.capabilities import PULL, RULE_ACTIONS
from regd.auth.generation import auth_write
from regd.auth.grants.base import GrantStore, existing_principal
from regd.auth.identities import IdentityError
from regd.db.schema import access_rules, namespace_owners
from regd.db.sql import AUTH_GENERATION, bump_generation, upsert
from regd.errors import ErrorKind


@dataclass(frozen=True, slots=True)
class AccessRule:
    repository: str
    principal_kind: str
    principal_id: str
    actions: list[str]


def check_rule_actions(actions: Any) -> None:
    if (
        not isinstance(actions, list)
        or not actions
        or not all(isinstance(action, str) for action in actions)
        or not set(actions) <= RULE_ACTIONS
    ):
        raise IdentityError(ErrorKind.INVALID, "actions: a non-empty list of pull, push, delete")


class RuleGrants(GrantStore):
    async def access_rules(self, repository: str) -> list[AccessRule]:
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(access_rules)
                    .where(access_rules.c.repository == repository)
                    .order_by(access_rules.c.principal_kind, access_rules.c.principal_id)
                )
            ).all()
        return [_rule(row) for row in rows]

    async def set_access_rule(
        self, repository: str, kind: str, principal_id: str, actions: Any
    ) -> AccessRule:
        if kind == "public":
            principal_id = ""
            if actions != [PULL]:
                raise IdentityError(
                    ErrorKind.INVALID, "a public access rule grants pull and nothing else"
                )
        else:
            await existing_principal(self._identities, kind, principal_id)
        async with auth_write(self._db) as conn:
            rule = await self.add_access_rule(conn, repository, kind, principal_id, actions)
        self.invalidate()
        return rule

    async def add_access_rule(
        self, conn: AsyncConnection, repository: str, kind: str, principal_id: str, actions: Any
    ) -> AccessRule:
        """Add or replace a principal's rule, in the caller's auth transaction."""
        check_rule_actions(actions)
        rule = AccessRule(repository, kind, principal_id, sorted(set(actions)))
        await upsert(
            conn,
            access_rules,
            {
                "repository": repository,
                "principal_kind": kind,
                "principal_id": principal_id,
                "actions": rule.actions,
                "created_at": time.time(),
            },
            keys=("repository", "principal_kind", "principal_id"),
        )
        return rule

    async def remove_access_rule(self, repository: str, kind: str, principal_id: str) -> None:
        await self._delete_one(
            access_rules,
            "no such access rule",
            repository=repository,
            principal_kind=kind,
            principal_id="" if kind == "public" else principal_id,
        )

    async def forget_repository(self, repository: str) -> None:
        """A deleted repository's access rules and owner go with it."""
        async with self._db.write() as conn:
            await self.forget_repository_in(conn, repository)
        self.invalidate()

    async def forget_repository_in(self, conn: AsyncConnection, repository: str) -> None:
        """:meth:`forget_repository` in the caller's transaction (this bumps the ``auth``
        generation in it; once committed, the caller calls :meth:`invalidate`)."""
        await conn.execute(sa.delete(access_rules).where(access_rules.c.repository == repository))
        await conn.execute(
            sa.delete(namespace_owners).where(namespace_owners.c.namespace == repository)
        )
        await bump_generation(conn, AUTH_GENERATION)

    # -- ownership -----------------------------------------------------------

    async def claim_namespace(self, namespace: str, owner: str) -> bool:
        """Record ``owner`` as the creator of ``namespace`` unless someone already is."""
        async with self._db.write() as conn:
            claimed = await self.claim_namespace_in(conn, namespace, owner)
        if claimed:
            self.invalidate()
        return claimed

    async def claim_namespace_in(self, conn: AsyncConnection, namespace: str, owner: str) -> bool:
        """:meth:`claim_namespace` in the caller's transaction (this bumps the ``auth``
        generation in it when it claims; once committed, the caller calls
        :meth:`invalidate`)."""
        if await conn.scalar(
            sa.select(namespace_owners.c.owner).where(namespace_owners.c.namespace == namespace)
        ):
            return False
        await conn.execute(
            sa.insert(namespace_owners).values(
                namespace=namespace, owner=owner, created_at=time.time()
            )
        )
        await bump_generation(conn, AUTH_GENERATION)
        return True

    async def owner_of(self, namespace: str) -> str | None:
        async with self._db.read() as conn:
            owner = await conn.scalar(
                sa.select(namespace_owners.c.owner).where(namespace_owners.c.namespace == namespace)
            )
        return owner


def _rule(row: Any) -> AccessRule:
    return AccessRule(row.repository, row.principal_kind, row.principal_id, list(row.actions))
