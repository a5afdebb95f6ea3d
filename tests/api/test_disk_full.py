"""A full disk mid-push: regd on a small tmpfs the test mounts (as root, as CI runs).

The push that runs out of space gets 507 with an OCI body saying the disk is full (regd
logs one line, no traceback); nothing half-written becomes visible (no blob, no staged
file); regd keeps serving what it has; once space is freed, the same push succeeds.

Not root: mounting is not possible, so the test skips — and fails under
REGD_E2E_REQUIRED=1, where CI must run it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.oci import assert_oci_error, digest_of, push_image
from tests.support.server import RegdProcess, start_regd

SIZE_MIB = 24


def _cannot_mount(reason: str) -> None:
    if os.environ.get("REGD_E2E_REQUIRED") == "1":
        pytest.fail(f"the disk-full test must run here (REGD_E2E_REQUIRED=1): {reason}")
    pytest.skip(reason)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A SIZE_MIB tmpfs mounted for this test alone."""
    if os.geteuid() != 0:
        _cannot_mount("mounting a small tmpfs needs root")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MIB}m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        _cannot_mount(f"mount failed: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _fill(path: Path, leave: int) -> None:
    """Write a file that leaves about ``leave`` bytes free on its file system."""
    stat = os.statvfs(path.parent)
    free = stat.f_bavail * stat.f_frsize
    with path.open("wb") as filler:
        filler.truncate(0)
        filler.write(b"\0" * max(free - leave, 0))


def test_a_full_disk_mid_push_is_a_clear_error_and_recoverable(small_disk: Path) -> None:
    server: RegdProcess = start_regd(small_disk / "data")
    try:
        with server.client() as http:
            image = push_image(http, "disk/app", "before", seed="disk-full")
            filler = small_disk / "filler"
            _fill(filler, leave=1 << 20)
            big = os.urandom(4 << 20)
            digest = digest_of(big)
            refused = http.post(
                "/v2/disk/app/blobs/uploads/", params={"digest": digest}, content=big
            )
            error = assert_oci_error(refused, 507, "UNKNOWN")
            assert "disk full" in error["message"]
            # Nothing half-written is visible, nothing staged is left behind.
            assert_oci_error(http.get(f"/v2/disk/app/blobs/{digest}"), 404, "BLOB_UNKNOWN")
            assert list((small_disk / "data" / "uploads").iterdir()) == []
            # Reads still work.
            manifest = http.get(f"/v2/disk/app/manifests/{image.digest}")
            assert manifest.status_code == 200
            assert manifest.content == image.manifest
            assert http.get("/v2/disk/app/tags/list").json()["tags"] == ["before"]
            # Space back: the same push succeeds.
            filler.unlink()
            again = http.post("/v2/disk/app/blobs/uploads/", params={"digest": digest}, content=big)
            assert again.status_code == 201, again.text
            assert http.get(f"/v2/disk/app/blobs/{digest}").content == big
    finally:
        server.stop()
    full_lines = [line for line in server.log.splitlines() if "disk full" in line]
    assert len(full_lines) == 1, server.log
    assert "Traceback" not in server.log
