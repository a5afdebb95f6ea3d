"""Running the Alembic migrations programmatically (``regd migrate``, and on start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from regd.db.engine import Database

_MIGRATIONS = Path(__file__).with_name("migrations")


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
        await connection.run_sync(_run)
