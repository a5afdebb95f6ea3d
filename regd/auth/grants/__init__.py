"""Grants: policies, role bindings, access rules and ownership, folded per principal.

Each door is stored by its own module (:mod:`.policies`, :mod:`.roles`, :mod:`.rules`);
``grants_of()`` folds them into the :class:`Grant` list of one principal, cached until any
of them changes in this process — or, on PostgreSQL, in any replica (see
:mod:`regd.auth.generation`).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from regd.auth.capabilities import ADMIN, DELETE, PULL, PUSH, ROLES, Grant, grant, namespace_globs
from regd.auth.grants.base import PRINCIPAL_KINDS
from regd.auth.grants.policies import POLICY_NAME, Policy, PolicyGrants
from regd.auth.grants.roles import RoleBinding, RoleGrants
from regd.auth.grants.rules import AccessRule, RuleGrants, check_rule_actions
from regd.auth.identities import Identities
from regd.auth.principals import Principal
from regd.caching import Cache
from regd.db import Database
from regd.db.schema import access_rules, namespace_owners, role_bindings

#: Principals whose folded grants are cached at most (least recently used first out).
GRANTS_CACHE_ENTRIES: Final = 10_000

__all__ = [
    "GRANTS_CACHE_ENTRIES",
    "POLICY_NAME",
    "PRINCIPAL_KINDS",
    "AccessRule",
    "Grants",
    "Policy",
    "RoleBinding",
    "check_rule_actions",
]


class Grants(PolicyGrants, RoleGrants, RuleGrants):
    """Every grant store, and the folding of them all into one principal's grants."""

    def __init__(self, db: Database, identities: Identities) -> None:
        super().__init__(db, identities)
        # Folded grants by principal subject, and the public ones, each with the ``auth``
        # generation they were read at (None with SQLite).
        self._cache: Cache[str, list[Grant]] = Cache(GRANTS_CACHE_ENTRIES)
        self._public: Cache[None, list[Grant]] = Cache(1)
        self.generation.on_change(self._drop)

    def _drop(self) -> None:
        self._cache.clear()
        self._public.clear()

    async def public_grants(self) -> list[Grant]:
        return await self._public_grants(await self.generation.current())

    async def _public_grants(self, generation: int | None) -> list[Grant]:
        async def read() -> list[Grant]:
            async with self._db.read() as conn:
                rows = (
                    await conn.execute(
                        sa.select(access_rules.c.repository).where(
                            access_rules.c.principal_kind == "public"
                        )
                    )
                ).all()
            globs = [glob for row in rows for glob in namespace_globs(row.repository)]
            return [grant([PULL], globs)] if rows else []

        return await self._public.get_or_read(None, generation, read)

    async def grants_of(self, principal: Principal) -> list[Grant]:
        """Every grant of a user or API client (public grants included)."""
        generation = await self.generation.current()

        async def read() -> list[Grant]:
            found = list(await self._public_grants(generation))
            if not principal.anonymous:
                found += await self._own_grants(principal)
            return found

        return await self._cache.get_or_read(principal.subject, generation, read)

    async def _own_grants(self, principal: Principal) -> list[Grant]:
        kind, principal_id = principal.kind, principal.id
        found = await self.policy_grants(tuple(await self.bound_policies(kind, principal_id)))
        if kind == "api-client":
            client = await self._identities.api_client(principal_id)
            found += client.as_grants()
        async with self._db.read() as conn:
            roles = (
                await conn.execute(
                    sa.select(role_bindings.c.role, role_bindings.c.namespace)
                    .where(role_bindings.c.principal_kind == kind)
                    .where(role_bindings.c.principal_id == principal_id)
                )
            ).all()
            rules = (
                await conn.execute(
                    sa.select(access_rules.c.repository, access_rules.c.actions)
                    .where(access_rules.c.principal_kind == kind)
                    .where(access_rules.c.principal_id == principal_id)
                )
            ).all()
            owned = (
                (
                    await conn.scalars(
                        sa.select(namespace_owners.c.namespace).where(
                            namespace_owners.c.owner == principal_id
                        )
                    )
                ).all()
                if kind == "user"
                else []
            )
        found += [grant(ROLES[row.role][1], namespace_globs(row.namespace)) for row in roles]
        # A rule on a repository covers the images below it too (acc-x/myapp/myapp).
        found += [grant(row.actions, namespace_globs(row.repository)) for row in rules]
        found += [grant([PULL, PUSH, DELETE, ADMIN], namespace_globs(ns)) for ns in owned]
        return found
