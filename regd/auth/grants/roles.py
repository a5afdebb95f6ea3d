"""Role bindings: a role (viewer, editor) of a principal over a namespace."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.auth.capabilities import ROLES
from regd.auth.generation import auth_write
from regd.auth.grants.base import GrantStore, existing_principal
from regd.auth.identities import IdentityError
from regd.db.schema import role_bindings
from regd.db.sql import upsert
from regd.errors import ErrorKind


@dataclass(frozen=True, slots=True)
class RoleBinding:
    role: str
    principal_kind: str
    principal_id: str
    namespace: str


class RoleGrants(GrantStore):
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
        await existing_principal(self._identities, kind, principal_id)
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
        await self._delete_one(
            role_bindings,
            "no such role binding",
            role=role,
            principal_kind=kind,
            principal_id=principal_id,
            namespace=namespace.strip("/"),
        )


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
