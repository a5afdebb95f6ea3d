"""Manifests: store (raw bytes, digest-stable), fetch by tag or digest, delete.

Hot-path caches: (repository id, digest) -> manifest and (repository id, tag) -> digest,
invalidated by this process's writes (an epoch keeps a read that raced a write from
filling them). With PostgreSQL each entry also carries the repository's generation it was
read at and is used only while that generation is current: a tag moved or deleted, or a
manifest deleted, by another replica bumps it in the same transaction, so no replica
serves a stale tag or a deleted manifest (see :mod:`regd.registry.repositories`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regd.caching import Cache
from regd.db import Database
from regd.db.schema import manifest_references, manifests, repository_blobs, tags
from regd.db.sql import insert_ignore, upsert
from regd.registry.blobs import Blobs
from regd.registry.clock import now
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.manifest_format import ParsedManifest, parse_manifest
from regd.registry.names import Digest
from regd.registry.repositories import Repositories, RepositoryRef
from regd.registry.tags import Tags

#: Bounds on the hot-path caches (least recently used first out).
MANIFEST_CACHE_ENTRIES: Final = 4096
TAG_CACHE_ENTRIES: Final = 65_536


@dataclass(frozen=True, slots=True)
class Manifest:
    digest: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    subject: str | None


class Manifests:
    def __init__(
        self, db: Database, repositories: Repositories, blobs: Blobs, listings: Tags
    ) -> None:
        self._db = db
        self._repositories = repositories
        self._blobs = blobs
        self._listings = listings  # drops its cached tag listings on every tag change
        # Hot-path caches: (repository id, digest) -> manifest, (repository id, tag) -> digest.
        # Each entry with the repository generation it was read at (None: SQLite).
        self._by_digest: Cache[tuple[int, str], Manifest] = Cache(MANIFEST_CACHE_ENTRIES)
        self._tags: Cache[tuple[int, str], str] = Cache(TAG_CACHE_ENTRIES)

    # -- reads ---------------------------------------------------------------

    async def get(self, name: str, reference: str | Digest) -> Manifest:
        unknown = RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"reference": str(reference)})
        ref = await self._repositories.ref(name)
        if ref is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": name})
        repository_id, generation = ref.id, ref.generation
        digest = (
            str(reference)
            if isinstance(reference, Digest)
            else await self._resolve(repository_id, reference, generation)
        )
        if digest is None:
            raise unknown
        found = digest

        async def read() -> Manifest:
            async with self._db.read() as conn:
                row = (
                    await conn.execute(
                        sa.select(manifests.c.media_type, manifests.c.content)
                        .where(manifests.c.repository_id == repository_id)
                        .where(manifests.c.digest == found)
                    )
                ).first()
            if row is None:
                raise unknown
            return Manifest(found, row.media_type, bytes(row.content))

        return await self._by_digest.get_or_read((repository_id, digest), generation, read)

    async def _resolve(self, repository_id: int, tag: str, generation: int | None) -> str | None:
        async def read() -> str | None:
            async with self._db.read() as conn:
                digest: str | None = await conn.scalar(
                    sa.select(tags.c.digest)
                    .where(tags.c.repository_id == repository_id)
                    .where(tags.c.name == tag)
                )
            return digest

        return await self._tags.get_or_read((repository_id, tag), generation, read)

    def forget_repository(self, repository_id: int) -> None:
        """Drop every cached entry of a deleted repository."""
        self._listings.forget(repository_id)
        self._tags.discard_where(lambda key: key[0] == repository_id)
        self._by_digest.discard_where(lambda key: key[0] == repository_id)

    def _forget_tags(self, repository_id: int, names: list[str]) -> None:
        self._listings.forget(repository_id)
        for name in names:
            self._tags.discard((repository_id, name))

    # -- writes --------------------------------------------------------------

    async def put(
        self, name: str, reference: str | Digest, content: bytes, content_type: str | None
    ) -> StoredManifest:
        """Validate and store a manifest, tagging it when ``reference`` is a tag."""
        parsed = parse_manifest(content, content_type)
        if isinstance(reference, Digest):
            digest = Digest.of(content, reference.algorithm)
            if digest != reference:
                raise RegistryError(
                    ErrorCode.DIGEST_INVALID,
                    "manifest digest does not match the reference",
                    {"expected": str(reference), "actual": str(digest)},
                )
        else:
            digest = Digest.of(content)
        ref = await self._repositories.ref(name)
        if ref is not None:
            await self._check_references(ref, parsed)
        elif parsed.blobs or parsed.children:
            missing = (parsed.blobs or parsed.children)[0]
            raise RegistryError(
                ErrorCode.MANIFEST_BLOB_UNKNOWN, detail={"digest": str(missing.digest)}
            )
        async with self._db.write() as conn:
            repository_id = await self._repositories.ensure(conn, name)
            await self._confirm_blobs(conn, repository_id, parsed)
            await self._insert(conn, repository_id, str(digest), content, parsed)
            if not isinstance(reference, Digest):
                await upsert(
                    conn,
                    tags,
                    {
                        "repository_id": repository_id,
                        "name": reference,
                        "digest": str(digest),
                        "updated_at": now(),
                    },
                    keys=("repository_id", "name"),
                )
                await self._repositories.bump(conn, [repository_id])
        self._repositories.remember(name, repository_id)
        if not isinstance(reference, Digest):
            self._forget_tags(repository_id, [reference])
        subject = str(parsed.subject.digest) if parsed.subject else None
        return StoredManifest(str(digest), subject)

    async def tag_state(self, name: str, tag: str) -> tuple[str, float] | None:
        """``(digest, updated_at)`` of a tag, read fresh from the database."""
        repository_id = await self._repositories.id_of(name)
        if repository_id is None:
            return None
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(tags.c.digest, tags.c.updated_at)
                    .where(tags.c.repository_id == repository_id)
                    .where(tags.c.name == tag)
                )
            ).first()
        return None if row is None else (row.digest, row.updated_at)

    async def put_cached(
        self, name: str, content: bytes, media_type: str, digest: Digest, tag: str | None
    ) -> None:
        """Store a manifest fetched from an upstream (verified by the caller); its blobs
        arrive later, on demand, so references are not checked. Tags it when given."""
        parsed = parse_manifest(content, media_type)
        async with self._db.write() as conn:
            repository_id = await self._repositories.ensure(conn, name)
            await self._insert(conn, repository_id, str(digest), content, parsed)
            if tag is not None:
                await upsert(
                    conn,
                    tags,
                    {
                        "repository_id": repository_id,
                        "name": tag,
                        "digest": str(digest),
                        "updated_at": now(),
                    },
                    keys=("repository_id", "name"),
                )
                await self._repositories.bump(conn, [repository_id])
        self._repositories.remember(name, repository_id)
        if tag is not None:
            self._forget_tags(repository_id, [tag])

    async def _check_references(self, ref: RepositoryRef, parsed: ParsedManifest) -> None:
        repository_id = ref.id
        for blob in parsed.blobs:
            if await self._blobs.linked_size(ref, str(blob.digest)) is None:
                raise RegistryError(
                    ErrorCode.MANIFEST_BLOB_UNKNOWN, detail={"digest": str(blob.digest)}
                )
        if not parsed.children:
            return
        wanted = {str(child.digest) for child in parsed.children}
        async with self._db.read() as conn:
            found = set(
                (
                    await conn.scalars(
                        sa.select(manifests.c.digest)
                        .where(manifests.c.repository_id == repository_id)
                        .where(manifests.c.digest.in_(wanted))
                    )
                ).all()
            )
        for child in parsed.children:
            if str(child.digest) not in found:
                raise RegistryError(
                    ErrorCode.MANIFEST_BLOB_UNKNOWN, detail={"digest": str(child.digest)}
                )

    async def _confirm_blobs(
        self, conn: AsyncConnection, repository_id: int, parsed: ParsedManifest
    ) -> None:
        """The manifest's blobs are still linked, checked inside its own transaction.

        :meth:`_check_references` may have answered from the link cache, and a garbage
        collection (this process or ``regd gc``) may have removed an old unreferenced link
        since; once this transaction commits, the new references protect the links.
        (SQLite: the writer lock is held from ``ensure``. PostgreSQL: FOR SHARE holds the
        rows until commit.)
        """
        wanted = {str(blob.digest) for blob in parsed.blobs}
        if not wanted:
            return
        query = (
            sa.select(repository_blobs.c.digest)
            .where(repository_blobs.c.repository_id == repository_id)
            .where(repository_blobs.c.digest.in_(wanted))
            .with_for_update(read=True)
        )
        missing = sorted(wanted - set((await conn.scalars(query)).all()))
        if missing:
            self._blobs.forget_links([(repository_id, digest) for digest in missing])
            raise RegistryError(ErrorCode.MANIFEST_BLOB_UNKNOWN, detail={"digest": missing[0]})

    async def _insert(
        self,
        conn: AsyncConnection,
        repository_id: int,
        digest: str,
        content: bytes,
        parsed: ParsedManifest,
    ) -> None:
        inserted = await insert_ignore(
            conn,
            manifests,
            {
                "repository_id": repository_id,
                "digest": digest,
                "media_type": parsed.media_type,
                "artifact_type": parsed.artifact_type,
                "subject": str(parsed.subject.digest) if parsed.subject else None,
                "size": len(content),
                "content": content,
                "created_at": now(),
            },
        )
        if not inserted:
            return
        references = {str(blob.digest): "blob" for blob in parsed.blobs}
        references.update({str(child.digest): "manifest" for child in parsed.children})
        if references:
            await conn.execute(
                sa.insert(manifest_references),
                [
                    {"repository_id": repository_id, "digest": digest, "child": child, "kind": kind}
                    for child, kind in references.items()
                ],
            )

    async def delete(self, name: str, reference: str | Digest) -> None:
        """Delete a tag, or a manifest (with every tag pointing at it) by digest."""
        repository_id = await self._repositories.id_of(name)
        if repository_id is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": name})
        async with self._db.write() as conn:
            if isinstance(reference, Digest):
                digest = str(reference)
                result = await conn.execute(
                    sa.delete(manifests)
                    .where(manifests.c.repository_id == repository_id)
                    .where(manifests.c.digest == digest)
                )
                removed_tags = (
                    await conn.scalars(
                        sa.delete(tags)
                        .where(tags.c.repository_id == repository_id)
                        .where(tags.c.digest == digest)
                        .returning(tags.c.name)
                    )
                ).all()
                await conn.execute(
                    sa.delete(manifest_references)
                    .where(manifest_references.c.repository_id == repository_id)
                    .where(manifest_references.c.digest == digest)
                )
            else:
                removed_tags = [reference]
                result = await conn.execute(
                    sa.delete(tags)
                    .where(tags.c.repository_id == repository_id)
                    .where(tags.c.name == reference)
                )
            if result.rowcount:
                await self._repositories.bump(conn, [repository_id])
        self._forget_tags(repository_id, list(removed_tags))
        if isinstance(reference, Digest):
            self._by_digest.discard((repository_id, str(reference)))
        if result.rowcount == 0:
            raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"reference": str(reference)})
