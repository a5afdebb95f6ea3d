"""The three doors into grants: policies, role bindings and access rules (plus ownership).

Each is stored here; ``grants_of()`` folds them into the :class:`Grant` list of one
principal, cached until any of them changes in this process — or, on PostgreSQL, in any
replica (see :mod:`regd.auth.generation`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.auth.capabilities import (
    ADMIN,
    BUILTIN_POLICIES,
    DELETE,
    PULL,
    PUSH,
    ROLES,
    RULE_ACTIONS,
    Grant,
    builtin_policy,
    grant,
    namespace_globs,
)
from regd.auth.generation import AuthGeneration, auth_write
from regd.auth.identities import Identities, IdentityError, normalize_grants
from regd.auth.principals import Principal
from regd.caching import Cache
from regd.db import Database
from regd.db.schema import access_rules, namespace_owners, policies, policy_bindings, role_bindings
from regd.db.sql import AUTH_GENERATION, bump_generation, upsert
from regd.errors import ErrorKind

#: Principals whose folded grants are cached at most (least recently used first out).
GRANTS_CACHE_ENTRIES: Final = 10_000
POLICY_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PRINCIPAL_KINDS = ("user", "api-client")


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    description: str
    rules: list[dict[str, Any]]
    builtin: bool


@dataclass(frozen=True, slots=True)
class AccessRule:
    repository: str
    principal_kind: str
    principal_id: str
    actions: list[str]


@dataclass(frozen=True, slots=True)
class RoleBinding:
    role: str
    principal_kind: str
    principal_id: str
    namespace: str


def _check_principal(kind: str, principal_id: str) -> None:
    if kind not in PRINCIPAL_KINDS or not principal_id:
        raise IdentityError(
            ErrorKind.INVALID, "a binding names a principal: kind user or api-client, and its id"
        )


async def _existing_principal(identities: Identities, kind: str, principal_id: str) -> None:
    """INVALID for a malformed reference, NOT_FOUND for a principal that does not exist: a
    grant to a name nobody holds yet would pass to whoever is created under it later."""
    _check_principal(kind, principal_id)
    if kind == "user":
        await identities.user(principal_id)
    else:
        await identities.api_client(principal_id)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise IdentityError(
            ErrorKind.INVALID, f"unknown role {role!r}: one of {', '.join(sorted(ROLES))}"
        )


def _check_namespace(namespace: str) -> None:
    if not namespace.strip("/"):
        raise IdentityError(
            ErrorKind.INVALID, "a role binding needs a namespace (repository-name prefix)"
        )


async def _policy_exists(conn: AsyncConnection, name: str) -> bool:
    if name in BUILTIN_POLICIES:
        return True
    return bool(await conn.scalar(sa.select(policies.c.name).where(policies.c.name == name)))


async def _bind_policy(conn: AsyncConnection, policy: str, kind: str, principal_id: str) -> None:
    await upsert(
        conn,
        policy_bindings,
        {
            "policy": policy,
            "principal_kind": kind,
            "principal_id": principal_id,
            "created_at": time.time(),
        },
        keys=("policy", "principal_kind", "principal_id"),
    )


def check_rule_actions(actions: Any) -> None:
    if (
        not isinstance(actions, list)
        or not actions
        or not all(isinstance(action, str) for action in actions)
        or not set(actions) <= RULE_ACTIONS
    ):
        raise IdentityError(ErrorKind.INVALID, "actions: a non-empty list of pull, push, delete")


class Grants:
    def __init__(self, db: Database, identities: Identities) -> None:
        self._db = db
        self._identities = identities
        # Folded grants by principal subject, and the public ones, each with the ``auth``
        # generation they were read at (None with SQLite).
        self._cache: Cache[str, list[Grant]] = Cache(GRANTS_CACHE_ENTRIES)
        self._public: Cache[None, list[Grant]] = Cache(1)
        #: Shared with the AccessController, whose credential cache follows it too.
        self.generation = AuthGeneration(db)
        self.generation.on_change(self._drop)

    def invalidate(self) -> None:
        """This process changed grants: drop what it cached (and the credential cache)."""
        self.generation.invalidated()

    def _drop(self) -> None:
        self._cache.clear()
        self._public.clear()

    # -- policies ------------------------------------------------------------

    async def policies(self) -> list[Policy]:
        found = [
            Policy(name, description, [{"capabilities": sorted(caps), "repositories": ["*"]}], True)
            for name, (description, caps) in BUILTIN_POLICIES.items()
        ]
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(policies).order_by(policies.c.name))).all()
        found += [Policy(row.name, row.description, list(row.rules), False) for row in rows]
        return sorted(found, key=lambda policy: policy.name)

    async def policy(self, name: str) -> Policy:
        for policy in await self.policies():
            if policy.name == name:
                return policy
        raise IdentityError(ErrorKind.NOT_FOUND, f"no policy {name!r}")

    async def create_policy(self, name: str, description: str, rules: Any) -> Policy:
        if not POLICY_NAME.fullmatch(name or ""):
            raise IdentityError(
                ErrorKind.INVALID, "a policy name is lowercase kebab-case (registry-push)"
            )
        if name in BUILTIN_POLICIES:
            raise IdentityError(ErrorKind.CONFLICT, f"{name!r} is a built-in policy")
        checked = normalize_grants(rules)
        if not checked:
            raise IdentityError(ErrorKind.INVALID, "a policy needs at least one rule")
        async with auth_write(self._db) as conn:
            if await conn.scalar(sa.select(policies.c.name).where(policies.c.name == name)):
                raise IdentityError(ErrorKind.CONFLICT, f"policy {name!r} exists")
            await conn.execute(
                sa.insert(policies).values(
                    name=name, description=description, rules=checked, created_at=time.time()
                )
            )
        self.invalidate()
        return Policy(name, description, checked, False)

    async def delete_policy(self, name: str) -> None:
        if name in BUILTIN_POLICIES:
            raise IdentityError(ErrorKind.CONFLICT, f"{name!r} is a built-in policy")
        async with auth_write(self._db) as conn:
            result = await conn.execute(sa.delete(policies).where(policies.c.name == name))
            await conn.execute(sa.delete(policy_bindings).where(policy_bindings.c.policy == name))
        self.invalidate()
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, f"no policy {name!r}")

    async def bind_policy(self, policy: str, kind: str, principal_id: str) -> None:
        await _existing_principal(self._identities, kind, principal_id)
        await self.policy(policy)
        async with auth_write(self._db) as conn:
            await _bind_policy(conn, policy, kind, principal_id)
        self.invalidate()

    async def bind_policies(
        self, conn: AsyncConnection, names: list[str], kind: str, principal_id: str
    ) -> None:
        """Bind each policy to a principal made in the caller's transaction (which bumps
        the ``auth`` generation); INVALID, naming them, when some policies do not exist."""
        unknown = [name for name in names if not await _policy_exists(conn, name)]
        if unknown:
            raise IdentityError(
                ErrorKind.INVALID, f"unknown policies: {', '.join(map(str, unknown))}"
            )
        for name in names:
            await _bind_policy(conn, name, kind, principal_id)

    async def unbind_policy(self, policy: str, kind: str, principal_id: str) -> None:
        async with auth_write(self._db) as conn:
            result = await conn.execute(
                sa.delete(policy_bindings)
                .where(policy_bindings.c.policy == policy)
                .where(policy_bindings.c.principal_kind == kind)
                .where(policy_bindings.c.principal_id == principal_id)
            )
        self.invalidate()
        if not result.rowcount:
            raise IdentityError(
                ErrorKind.NOT_FOUND, f"{kind} {principal_id!r} does not hold policy {policy!r}"
            )

    async def bound_policies(self, kind: str, principal_id: str) -> list[str]:
        async with self._db.read() as conn:
            return list(
                (
                    await conn.scalars(
                        sa.select(policy_bindings.c.policy)
                        .where(policy_bindings.c.principal_kind == kind)
                        .where(policy_bindings.c.principal_id == principal_id)
                        .order_by(policy_bindings.c.policy)
                    )
                ).all()
            )

    async def policy_grants(self, names: tuple[str, ...]) -> list[Grant]:
        result: list[Grant] = []
        custom = {policy.name: policy for policy in await self.policies() if not policy.builtin}
        for name in names:
            builtin = builtin_policy(name)
            if builtin is not None:
                result += builtin
            elif name in custom:
                result += [grant(r["capabilities"], r["repositories"]) for r in custom[name].rules]
        return result

    # -- role bindings -------------------------------------------------------

    async def role_bindings(self) -> list[RoleBinding]:
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(role_bindings).order_by(
                        role_bindings.c.namespace,
                        role_bindings.c.role,
                        role_bindings.c.principal_id,
                    )
                )
            ).all()
        return [RoleBinding(r.role, r.principal_kind, r.principal_id, r.namespace) for r in rows]

    async def bind_role(
        self, role: str, kind: str, principal_id: str, namespace: str
    ) -> RoleBinding:
        _check_role(role)
        await _existing_principal(self._identities, kind, principal_id)
        async with auth_write(self._db) as conn:
            binding = await self.add_role_binding(conn, role, kind, principal_id, namespace)
        self.invalidate()
        return binding

    async def add_role_binding(
        self, conn: AsyncConnection, role: str, kind: str, principal_id: str, namespace: str
    ) -> RoleBinding:
        """Bind a role to a principal that exists in the caller's auth transaction."""
        _check_role(role)
        _check_namespace(namespace)
        binding = RoleBinding(role, kind, principal_id, namespace.strip("/"))
        await upsert(
            conn,
            role_bindings,
            {
                "role": role,
                "principal_kind": kind,
                "principal_id": principal_id,
                "namespace": binding.namespace,
                "created_at": time.time(),
            },
            keys=("role", "principal_kind", "principal_id", "namespace"),
        )
        return binding

    async def unbind_role(self, role: str, kind: str, principal_id: str, namespace: str) -> None:
        async with auth_write(self._db) as conn:
            result = await conn.execute(
                sa.delete(role_bindings)
                .where(role_bindings.c.role == role)
                .where(role_bindings.c.principal_kind == kind)
                .where(role_bindings.c.principal_id == principal_id)
                .where(role_bindings.c.namespace == namespace.strip("/"))
            )
        self.invalidate()
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, "no such role binding")

    # -- access rules --------------------------------------------------------

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
            await _existing_principal(self._identities, kind, principal_id)
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
        async with auth_write(self._db) as conn:
            result = await conn.execute(
                sa.delete(access_rules)
                .where(access_rules.c.repository == repository)
                .where(access_rules.c.principal_kind == kind)
                .where(access_rules.c.principal_id == ("" if kind == "public" else principal_id))
            )
        self.invalidate()
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, "no such access rule")

    async def forget_repository(self, conn: AsyncConnection, repository: str) -> None:
        """A deleted repository's access rules and owner go with it (in the caller's
        transaction, which this bumps the ``auth`` generation in; then :meth:`invalidate`)."""
        await conn.execute(sa.delete(access_rules).where(access_rules.c.repository == repository))
        await conn.execute(
            sa.delete(namespace_owners).where(namespace_owners.c.namespace == repository)
        )
        await bump_generation(conn, AUTH_GENERATION)

    # -- ownership -----------------------------------------------------------

    async def claim_namespace(self, conn: AsyncConnection, namespace: str, owner: str) -> bool:
        """Record ``owner`` as the creator of ``namespace`` unless someone already is (in
        the caller's transaction, which this bumps the ``auth`` generation in; then
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

    # -- folding -------------------------------------------------------------

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


def _rule(row: Any) -> AccessRule:
    return AccessRule(row.repository, row.principal_kind, row.principal_id, list(row.actions))
