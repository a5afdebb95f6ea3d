"""Policies: named sets of grants (built in, or stored), and their bindings to principals."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.auth.capabilities import BUILTIN_POLICIES, Grant, builtin_policy, grant
from regd.auth.generation import auth_write
from regd.auth.grants.base import GrantStore, existing_principal
from regd.auth.identities import IdentityError, normalize_grants
from regd.db.schema import policies, policy_bindings
from regd.db.sql import upsert
from regd.errors import ErrorKind

POLICY_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    description: str
    rules: list[dict[str, Any]]
    builtin: bool


class PolicyGrants(GrantStore):
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
        await existing_principal(self._identities, kind, principal_id)
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
        await self._delete_one(
            policy_bindings,
            f"{kind} {principal_id!r} does not hold policy {policy!r}",
            policy=policy,
            principal_kind=kind,
            principal_id=principal_id,
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
