"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db.schema import generations


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def insert_ignore(conn: AsyncConnection, table: sa.Table, values: dict[str, Any]) -> bool:
    """INSERT unless the primary key exists; True when a row was inserted."""
    result = await conn.execute(_insert(conn, table).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)


async def upsert(
    conn: AsyncConnection, table: sa.Table, values: dict[str, Any], keys: Sequence[str]
) -> None:
    """INSERT, or UPDATE the non-key columns when the key exists."""
    statement = _insert(conn, table).values(**values)
    updates = {column: statement.excluded[column] for column in values if column not in keys}
    await conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates))


def is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


#: The ``generations`` rows: ``auth`` is bumped by changes to credentials, tokens and
#: grants; ``remotes`` by changes to remote registries and the image-registry settings;
#: ``catalog`` by the creation and deletion of repositories.
AUTH_GENERATION = "auth"
REMOTES_GENERATION = "remotes"
CATALOG_GENERATION = "catalog"


async def bump_generation(conn: AsyncConnection, name: str) -> None:
    """PostgreSQL: tell other replicas (in the caller's transaction) that ``name`` changed.

    The row is created by the first bump (a missing row reads as 0). A no-op with SQLite:
    one process owns the database and invalidates its own caches.
    """
    if is_postgresql(conn):
        statement = postgresql.insert(generations).values(name=name, value=1)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[generations.c.name], set_={"value": generations.c.value + 1}
            )
        )


async def exclusive(conn: AsyncConnection, lock: int) -> None:
    """Hold ``lock`` until the caller's transaction ends: writers that take it run one
    after the other, across processes (a PostgreSQL advisory lock; SQLite's one writer,
    taken at once instead of at the transaction's first write)."""
    if is_postgresql(conn):
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))
    else:
        await conn.execute(sa.update(generations).where(sa.false()).values(value=0))
