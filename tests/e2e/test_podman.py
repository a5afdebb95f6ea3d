"""podman (as root, vfs storage in a temporary directory) pushes to and pulls from regd,
logged in as ``admin`` with ``podman login --authfile``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.e2e.accounts import ADMIN
from tests.e2e.clients import make_podman
from tests.e2e.conftest import require, write_policy
from tests.support.images import write_image_layout
from tests.support.oci import OCI_MANIFEST, digest_of
from tests.support.server import RegdProcess

pytestmark = pytest.mark.e2e


def test_push_and_pull(
    podman: str, podman_root: Path, regd: RegdProcess, http: httpx.Client, tmp_path: Path
) -> None:
    require(os.geteuid() == 0, "the podman test runs podman as root")
    client = make_podman(podman, podman_root, regd.host)
    assert "Login Succeeded" in client.login(regd.host, ADMIN.name, ADMIN.secret)
    stored = json.loads(client.auth_file.read_text())
    assert regd.host in stored["auths"], stored
    policy = write_policy(tmp_path)
    image = write_image_layout(tmp_path / "layout", "1.0", seed="podman")
    target = f"{regd.host}/acc-x/podman/app:1.0"

    image_id = client("pull", "--quiet", "--signature-policy", policy, image.reference)
    # An image's ID is its config's digest.
    assert f"sha256:{image_id}" == image.config_digest
    client("tag", image_id, target)
    digest_file = tmp_path / "pushed-digest"
    client("push", "--signature-policy", policy, "--digestfile", digest_file, target)
    pushed_digest = digest_file.read_text().strip()

    response = http.get("/v2/acc-x/podman/app/manifests/1.0", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == pushed_digest == digest_of(response.content)
    manifest = json.loads(response.content)
    assert manifest["config"]["digest"] == image.config_digest
    assert len(manifest["layers"]) == len(image.layers)
    for descriptor in (manifest["config"], *manifest["layers"]):
        blob = http.get(f"/v2/acc-x/podman/app/blobs/{descriptor['digest']}")
        assert blob.status_code == 200
        assert digest_of(blob.content) == descriptor["digest"]
        assert len(blob.content) == descriptor["size"]

    client("rmi", "--all", "--force")
    assert client("images", "--quiet") == ""

    pulled_id = client("pull", "--quiet", "--signature-policy", policy, target)
    assert pulled_id == image_id
    [inspected] = json.loads(client("image", "inspect", target))
    assert inspected["Id"] == image_id
    assert inspected["Digest"] == pushed_digest
    assert f"{regd.host}/acc-x/podman/app@{pushed_digest}" in inspected["RepoDigests"]
    assert inspected["RootFS"]["Layers"] == [layer.diff_id for layer in image.layers]

    # The pulled layers unpack to the files the image was built from.
    mounted = Path(client("image", "mount", target))
    try:
        for layer in image.layers:
            for path, content in layer.files.items():
                assert (mounted / path).read_bytes() == content, path
    finally:
        client("image", "unmount", target)
