"""What every kind of grant store shares: the database, identities and invalidation."""

from __future__ import annotations

import sqlalchemy as sa

from regd.auth.generation import AuthGeneration, auth_write
from regd.auth.identities import Identities, IdentityError
from regd.db import Database
from regd.errors import ErrorKind

PRINCIPAL_KINDS = ("user", "api-client")


class GrantStore:
    """The state each part of :class:`regd.auth.grants.Grants` works on."""

    def __init__(self, db: Database, identities: Identities) -> None:
        self._db = db
        self._identities = identities
        #: Shared with the AccessController, whose credential cache follows it too.
        self.generation = AuthGeneration(db)

    def invalidate(self) -> None:
        """This process changed grants: drop what it cached (and the credential cache)."""
        self.generation.invalidated()

    async def _delete_one(self, table: sa.Table, missing: str, **match: str) -> None:
        """Delete the row of ``table`` whose columns are ``match``; NOT_FOUND ``missing``
        when there is none."""
        async with auth_write(self._db) as conn:
            result = await conn.execute(
                sa.delete(table).where(*(table.c[name] == value for name, value in match.items()))
            )
        self.invalidate()
        if not result.rowcount:
            raise IdentityError(ErrorKind.NOT_FOUND, missing)


def check_principal(kind: str, principal_id: str) -> None:
    if kind not in PRINCIPAL_KINDS or not principal_id:
        raise IdentityError(
            ErrorKind.INVALID, "a binding names a principal: kind user or api-client, and its id"
        )


async def existing_principal(identities: Identities, kind: str, principal_id: str) -> None:
    """INVALID for a malformed reference, NOT_FOUND for a principal that does not exist: a
    grant to a name nobody holds yet would pass to whoever is created under it later."""
    check_principal(kind, principal_id)
    if kind == "user":
        await identities.user(principal_id)
    else:
        await identities.api_client(principal_id)
