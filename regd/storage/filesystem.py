"""The embedded default driver: blobs as files under a data directory.

Layout::

    ROOT/blobs/<algorithm>/<first two hex>/<hex>   committed, immutable blobs
    ROOT/uploads/<upload id>                      staged uploads in flight

A commit fsyncs the staged file once and renames it into place, so a blob path
only ever holds complete, verified content, even after a crash.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Final

READ_CHUNK: Final = 1 << 20


class _FileUploadWriter:
    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self._file.write, data)

    async def close(self) -> None:
        await asyncio.to_thread(self._file.close)


class FilesystemStore:
    """A :class:`~regd.storage.driver.BlobStore` on a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)

    # -- blobs ---------------------------------------------------------------

    def _blob_path(self, algorithm: str, hexdigest: str) -> Path:
        return self._blobs / algorithm / hexdigest[:2] / hexdigest

    async def stat(self, algorithm: str, hexdigest: str) -> int | None:
        try:
            return self._blob_path(algorithm, hexdigest).stat().st_size
        except FileNotFoundError:
            return None

    def local_path(self, algorithm: str, hexdigest: str) -> Path | None:
        return self._blob_path(algorithm, hexdigest)

    async def read(
        self, algorithm: str, hexdigest: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        async for chunk in _read_file(self._blob_path(algorithm, hexdigest), offset, length):
            yield chunk

    async def delete(self, algorithm: str, hexdigest: str) -> bool:
        try:
            self._blob_path(algorithm, hexdigest).unlink()
        except FileNotFoundError:
            return False
        return True

    async def list_blobs(self) -> AsyncIterator[tuple[str, str]]:
        for algorithm_dir in sorted(self._blobs.iterdir()):
            for prefix in sorted(algorithm_dir.iterdir()):
                for blob in sorted(prefix.iterdir()):
                    yield algorithm_dir.name, blob.name

    # -- uploads -------------------------------------------------------------

    def _upload_path(self, upload_id: str) -> Path:
        if not upload_id or "/" in upload_id or upload_id.startswith("."):
            raise ValueError("invalid upload id")
        return self._uploads / upload_id

    async def create_upload(self, upload_id: str) -> None:
        self._upload_path(upload_id).touch(exist_ok=False)

    async def upload_size(self, upload_id: str) -> int | None:
        try:
            return self._upload_path(upload_id).stat().st_size
        except FileNotFoundError:
            return None

    async def open_upload(self, upload_id: str) -> _FileUploadWriter:
        path = self._upload_path(upload_id)
        file = await asyncio.to_thread(open, path, "r+b")
        file.seek(0, os.SEEK_END)
        return _FileUploadWriter(file)

    async def read_upload(self, upload_id: str, offset: int = 0) -> AsyncIterator[bytes]:
        async for chunk in _read_file(self._upload_path(upload_id), offset, None):
            yield chunk

    async def commit_upload(self, upload_id: str, algorithm: str, hexdigest: str) -> None:
        await asyncio.to_thread(self._commit, self._upload_path(upload_id), algorithm, hexdigest)

    def _commit(self, staged: Path, algorithm: str, hexdigest: str) -> None:
        target = self._blob_path(algorithm, hexdigest)
        if target.exists():  # same content already stored: keep the old file
            staged.unlink(missing_ok=True)
            return
        fd = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)

    async def delete_upload(self, upload_id: str) -> None:
        self._upload_path(upload_id).unlink(missing_ok=True)

    async def list_uploads(self) -> AsyncIterator[tuple[str, float]]:
        for entry in sorted(self._uploads.iterdir()):
            try:
                yield entry.name, entry.stat().st_mtime
            except FileNotFoundError:
                continue


async def _read_file(path: Path, offset: int, length: int | None) -> AsyncIterator[bytes]:
    with await asyncio.to_thread(open, path, "rb") as file:
        file.seek(offset)
        remaining = length
        while remaining is None or remaining > 0:
            size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
            chunk = await asyncio.to_thread(file.read, size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
