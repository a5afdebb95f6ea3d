"""Moving a registry to other storage: blobs into another store, metadata into another
database (``regd move``), so a registry started on one laptop (files + SQLite) can grow
into object storage + PostgreSQL without pushing anything again.

1. **Blobs** first: every blob of the source's ``blobs`` table is streamed from the source
   store into an upload of the target store while it is hashed, and committed there only
   when its digest matched. A blob the target already holds at the right size was put
   there by an earlier run (commits are atomic and verified), so a run that was stopped
   resumes where it was.
2. **Metadata** then, in ONE transaction on the target: every table but the in-flight
   ``uploads`` is emptied and filled from the source, so running the move again is safe
   and brings the target up to date. PostgreSQL's id sequences are moved past the
   copied ids.

The source should not take writes meanwhile (stop its ``regd serve``). Signing keys and
the Strongbox master key stay in the data directory (or ``REGD_MASTER_KEY``): the target
regd needs the same ones to verify tokens and open secrets.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.db import Database, schema
from regd.db.schema import blobs, uploads
from regd.registry.names import Digest
from regd.storage import BlobStore

log = logging.getLogger(__name__)

#: Rows inserted per statement when copying a table.
_BATCH = 500


class MoveError(Exception):
    """A blob that cannot be moved (missing in the source, or its bytes do not match)."""


@dataclass(slots=True)
class MoveReport:
    blobs_copied: int = 0
    blobs_present: int = 0
    bytes_copied: int = 0
    rows: int = 0
    tables: int = 0

    def __str__(self) -> str:
        return (
            f"{self.blobs_copied} blob(s) copied ({self.bytes_copied} bytes, every digest "
            f"verified), {self.blobs_present} already there; {self.rows} row(s) in "
            f"{self.tables} table(s)"
        )


async def move_registry(
    source_db: Database,
    source: BlobStore,
    target_db: Database,
    target: BlobStore,
    metadata: bool = True,
) -> MoveReport:
    """Blobs, then (unless not ``metadata``: the database stays) every table's rows."""
    report = MoveReport()
    async with source_db.read() as conn:
        rows = (await conn.execute(sa.select(blobs.c.digest, blobs.c.size))).all()
    for row in rows:
        digest = Digest.parse(row.digest)
        if await target.stat(digest.algorithm, digest.hex) == row.size:
            report.blobs_present += 1
            continue
        await _copy_blob(source, target, digest, row.size)
        report.blobs_copied += 1
        report.bytes_copied += row.size
    if metadata:
        await _copy_tables(source_db, target_db, report)
    return report


async def _copy_blob(source: BlobStore, target: BlobStore, digest: Digest, size: int) -> None:
    upload_id = f"move-{digest.hex[:32]}"
    await target.delete_upload(upload_id)  # what a stopped run left behind
    await target.create_upload(upload_id)
    hasher = hashlib.new(digest.algorithm)
    copied = 0
    try:
        writer = await target.open_upload(upload_id)
        try:
            async for chunk in source.read(digest.algorithm, digest.hex):
                await asyncio.gather(writer.write(chunk), asyncio.to_thread(hasher.update, chunk))
                copied += len(chunk)
        finally:
            await writer.close()
        if copied != size or hasher.hexdigest() != digest.hex:
            raise MoveError(f"blob {digest}: the source's bytes do not match its digest")
        await target.commit_upload(upload_id, digest.algorithm, digest.hex)
        target.unpin(digest.algorithm, digest.hex)
    except FileNotFoundError:
        await target.delete_upload(upload_id)
        raise MoveError(f"blob {digest} is listed but not stored in the source") from None
    except BaseException:
        await target.delete_upload(upload_id)
        raise


async def _copy_tables(source_db: Database, target_db: Database, report: MoveReport) -> None:
    tables = [table for table in schema.metadata.sorted_tables if table is not uploads]
    async with target_db.write() as target:
        for table in reversed(tables):
            await target.execute(sa.delete(table))
        for table in tables:
            async with source_db.read() as source:
                rows = [dict(row._mapping) for row in (await source.execute(sa.select(table)))]
            for start in range(0, len(rows), _BATCH):
                await target.execute(sa.insert(table), rows[start : start + _BATCH])
            report.rows += len(rows)
            report.tables += 1
        if target.dialect.name == "postgresql":
            for table in tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is True:
                        await _advance_sequence(target, table, column)


async def _advance_sequence(conn: AsyncConnection, table: sa.Table, column: sa.Column[Any]) -> None:
    """Make the next generated id follow the copied ones (PostgreSQL)."""
    sequence = sa.func.pg_get_serial_sequence(table.name, column.name)
    highest = sa.select(sa.func.coalesce(sa.func.max(column), 0) + 1).scalar_subquery()
    await conn.execute(sa.select(sa.func.setval(sequence, highest, False)))
