"""The storage-driver interface: small on purpose.

A driver stores immutable blobs under their digest (``algorithm``/``hex``) and the
staged bytes of uploads in flight.  It knows nothing of repositories, manifests or
verification: the registry layer hashes what it writes and decides when to commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol


class UploadWriter(Protocol):
    """Appends to one staged upload."""

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None:
        """Flush what was written (not necessarily to stable storage)."""

    async def abandon(self) -> None:
        """Close, undoing every write made through this writer: the upload is left as it
        was when it was opened (a chunk refused after it was received)."""


class BlobStore(Protocol):
    """Content-addressed blob storage plus a staging area for uploads."""

    async def stat(self, algorithm: str, hexdigest: str) -> int | None:
        """The blob's size, or None when it is not stored."""

    def local_path(self, algorithm: str, hexdigest: str) -> Path | None:
        """A local file holding the blob (for ``sendfile``), or None for remote drivers."""

    def read(
        self, algorithm: str, hexdigest: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes of a blob from ``offset``."""

    async def delete(self, algorithm: str, hexdigest: str) -> bool:
        """Remove a blob; False when it was not there."""

    async def pin(self, algorithm: str, hexdigest: str) -> bool:
        """Protect a stored blob from :meth:`remove` until :meth:`unpin` and mark it fresh
        (a mount about to link it); False when it is not stored."""

    def unpin(self, algorithm: str, hexdigest: str) -> None:
        """Release one pin taken by :meth:`pin` or :meth:`commit_upload` (none: no-op)."""

    async def remove(self, algorithm: str, hexdigest: str, fresh_since: float) -> int | None:
        """Delete a blob unless it is pinned or was committed or pinned at or after
        ``fresh_since`` (unix time): the bytes freed (0: it was not stored), None: kept.

        Atomic against :meth:`commit_upload` and :meth:`pin` of the same digest: either
        they see the blob gone (and store their own bytes), or this sees them and keeps it.
        The caller (garbage collection) holds the metadata lock on the digest meanwhile.
        """

    async def purge_removed(self, older_than: float) -> int:
        """Drop what a :meth:`remove` interrupted by a crash left behind; bytes freed."""

    def list_blobs(self) -> AsyncIterator[tuple[str, str]]:
        """Every stored blob as ``(algorithm, hex)``."""

    async def create_upload(self, upload_id: str) -> None: ...

    async def upload_size(self, upload_id: str) -> int | None:
        """Bytes staged so far, or None when the upload does not exist."""

    async def open_upload(self, upload_id: str) -> UploadWriter:
        """A writer appending at the end of the staged upload."""

    def read_upload(self, upload_id: str, offset: int = 0) -> AsyncIterator[bytes]:
        """Stream the staged bytes from ``offset`` to their current end."""

    async def commit_upload(self, upload_id: str, algorithm: str, hexdigest: str) -> None:
        """Make the staged bytes the blob ``algorithm:hex``, atomically and durably.

        The blob is pinned (see :meth:`pin`) until the caller links it and unpins it; when
        the same content is stored already, that copy is kept and marked fresh instead.
        """

    async def delete_upload(self, upload_id: str) -> None: ...

    def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        """Staged uploads as ``(upload_id, last-modified unix time)``."""
