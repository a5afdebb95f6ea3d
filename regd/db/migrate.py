"""Running the Alembic migrations programmatically (``regd migrate``, and on start)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from regd.db.engine import Database

_MIGRATIONS = Path(__file__).with_name("migrations")
#: The PostgreSQL advisory lock held while migrating ("regd" in ASCII): replicas starting
#: at once migrate one after the other; the later ones find the schema up to date.
MIGRATION_LOCK = 0x72656764


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``."""

    def _run(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Transaction-scoped: released by the commit (or rollback) below. DDL is
            # transactional in PostgreSQL, so a failed migration leaves nothing half done.
            await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        await connection.run_sync(_run)
