"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


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
