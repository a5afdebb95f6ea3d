"""Running the Alembic migrations (``regd migrate``, and on start).

Alembic, Mako and the DDL compilers they load cost ~11 MiB that a running regd never needs
again. So at start :func:`migrate_to_head` first compares the database's revision with the
newest one of the scripts (read from their files, one SELECT): the usual restart has
nothing to migrate and never imports alembic. When there is something to do, alembic runs
in a child process (:func:`main`) that exits when it is done.
:func:`upgrade` runs alembic in this process (tests, in-memory databases).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from regd.db.engine import Database, connect
from regd.errors import StartupError

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).with_name("migrations")
#: The PostgreSQL advisory lock held while migrating ("regd" in ASCII): replicas starting
#: at once migrate one after the other; the later ones find the schema up to date.
MIGRATION_LOCK = 0x72656764
#: How the child process learns the database (an environment variable: a PostgreSQL URL
#: may hold a password, which must not show in the process list).
_URL_VARIABLE: Final = "REGD_MIGRATE_DATABASE_URL"
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(?:'([^']*)'|\"([^\"]*)\"|None)\s*$", re.M)


def _config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``, in this process."""

    def _run(connection: Connection) -> None:
        from alembic import command

        command.upgrade(_config(connection), revision)

    async with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Transaction-scoped: released by the commit (or rollback) below. DDL is
            # transactional in PostgreSQL, so a failed migration leaves nothing half done.
            await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        await connection.run_sync(_run)


def head_revision() -> str | None:
    """The newest revision of the migration scripts, read from their files; None when
    that is not one simple chain (alembic decides then)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (_MIGRATIONS / "versions").glob("*.py"):
        found = {
            m.group(1): m.group(2) or m.group(3) for m in _REVISION.finditer(script.read_text())
        }
        if not found.get("revision"):
            return None
        revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def current_revision(database: Database) -> str | None:
    """The revision the database is at; None for an empty database."""

    def _read(connection: Connection) -> str | None:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        return str(rows[0][0]) if len(rows) == 1 else None

    async with database.engine.connect() as connection:
        return await connection.run_sync(_read)


async def migrate_to_head(database: Database) -> None:
    """Bring the schema up to date; alembic runs in a child process, only when needed."""
    head = head_revision()
    if head is not None and await current_revision(database) == head:
        return
    url = database.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        await upgrade(database)  # nothing another process could open
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from regd.db.migrate import main; main()",
        env={**os.environ, _URL_VARIABLE: url.render_as_string(hide_password=False)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await child.communicate()
    if child.returncode != 0:
        lines = errors.decode(errors="replace").strip().splitlines() or ["no message"]
        raise StartupError(f"migrating the database failed: {lines[-1][:500]}")


def main() -> None:
    """The child process of :func:`migrate_to_head`."""

    async def run() -> None:
        database = connect(os.environ[_URL_VARIABLE])
        try:
            await upgrade(database)
        finally:
            await database.close()

    asyncio.run(run())
