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
        """Make the staged bytes the blob ``algorithm:hex``, atomically and durably."""

    async def delete_upload(self, upload_id: str) -> None: ...

    def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        """Staged uploads as ``(upload_id, last-modified unix time)``."""
