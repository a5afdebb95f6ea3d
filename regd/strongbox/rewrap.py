"""Re-wrapping sealed rows under the current master key (``regd rotate-master-key``)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from regd.db import Database
from regd.strongbox.crypto import MasterKeys, Sealed


async def rewrap_table(
    db: Database, table: sa.Table, keys: MasterKeys, key_columns: Sequence[str]
) -> int:
    """Re-wrap the data key of every row of ``table`` (columns ``ciphertext``,
    ``wrapped_key``, ``master_key_id``, and its primary key ``key_columns``) that another
    master key wrapped; how many. The ciphertexts stay as they are."""
    columns = table.c
    async with db.write() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    *(columns[name] for name in key_columns),
                    columns.ciphertext,
                    columns.wrapped_key,
                    columns.master_key_id,
                ).where(columns.master_key_id != keys.current_id)
            )
        ).all()
        for row in rows:
            sealed = keys.rewrap(Sealed(row.ciphertext, row.wrapped_key, row.master_key_id))
            where = [columns[name] == getattr(row, name) for name in key_columns]
            await conn.execute(
                sa.update(table)
                .where(*where)
                .values(wrapped_key=sealed.wrapped_key, master_key_id=sealed.master_key_id)
            )
    return len(rows)
