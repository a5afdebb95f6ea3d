"""The referrers of a manifest: manifests whose ``subject`` points at it."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from regd.db import Database
from regd.db.schema import manifests
from regd.registry.names import Digest
from regd.registry.repositories import Repositories


class Referrers:
    def __init__(self, db: Database, repositories: Repositories) -> None:
        self._db = db
        self._repositories = repositories

    async def list(
        self, name: str, subject: Digest, artifact_type: str | None
    ) -> list[dict[str, Any]]:
        """Descriptors of the referrers of ``subject`` (empty for an unknown subject)."""
        repository_id = await self._repositories.id_of(name)
        if repository_id is None:
            return []
        query = (
            sa.select(
                manifests.c.digest,
                manifests.c.media_type,
                manifests.c.size,
                manifests.c.artifact_type,
                manifests.c.content,
            )
            .where(manifests.c.repository_id == repository_id)
            .where(manifests.c.subject == str(subject))
            .order_by(manifests.c.created_at, manifests.c.digest)
        )
        if artifact_type is not None:
            query = query.where(manifests.c.artifact_type == artifact_type)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_descriptor(row) for row in rows]


def _descriptor(row: Any) -> dict[str, Any]:
    descriptor: dict[str, Any] = {
        "mediaType": row.media_type,
        "digest": row.digest,
        "size": row.size,
    }
    if row.artifact_type:
        descriptor["artifactType"] = row.artifact_type
    annotations = json.loads(row.content).get("annotations")
    if annotations:
        descriptor["annotations"] = annotations
    return descriptor
