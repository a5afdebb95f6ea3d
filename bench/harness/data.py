"""Test data: random blobs (whole or as chunk files) with their sha256 digests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from harness.common import MiB


def _write_random(out: Any, hasher: Any, size: int) -> None:
    while size:
        block = os.urandom(min(size, 8 * MiB))
        hasher.update(block)
        out.write(block)
        size -= len(block)


def random_file(path: Path, size: int) -> str:
    """``size`` bytes from the kernel's CSPRNG (like ``head -c``); the sha256 digest."""
    hasher = hashlib.sha256()
    with path.open("wb") as out:
        _write_random(out, hasher, size)
    return "sha256:" + hasher.hexdigest()


def random_chunks(directory: Path, size: int, chunk: int) -> tuple[str, list[Path]]:
    """One random blob of ``size`` bytes as ``chunk``-byte files, in order; digest, files."""
    directory.mkdir(parents=True)
    hasher = hashlib.sha256()
    paths: list[Path] = []
    for index, offset in enumerate(range(0, size, chunk)):
        path = directory / f"chunk-{index:05d}"
        with path.open("wb") as out:
            _write_random(out, hasher, min(chunk, size - offset))
        paths.append(path)
    return "sha256:" + hasher.hexdigest(), paths


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
