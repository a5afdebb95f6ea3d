"""The docker CLI reads a manifest from regd (``docker manifest`` needs no engine), after
``docker login`` as ``admin`` into a ``DOCKER_CONFIG`` of its own."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.e2e.accounts import ADMIN
from tests.e2e.clients import make_docker
from tests.support.images import push_layout_image, write_image_layout
from tests.support.oci import OCI_MANIFEST
from tests.support.server import RegdProcess

pytestmark = pytest.mark.e2e

NAME = "acc-x/myapp/myapp"


def test_manifest_inspect(docker: str, fresh_regd: RegdProcess, tmp_path: Path) -> None:
    image = write_image_layout(tmp_path / "layout", "1.0", seed="docker")
    with fresh_regd.client() as http:
        push_layout_image(http, image, NAME, "1.0")
    client = make_docker(docker, tmp_path / "docker-config")
    login = client.login(fresh_regd.host, ADMIN.name, ADMIN.secret)
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout
    reference = f"{fresh_regd.host}/{NAME}:1.0"

    shown = client.manifest(reference)
    assert shown == json.loads(image.manifest)
    assert shown["mediaType"] == OCI_MANIFEST

    # Verbose: the descriptor docker resolved, and the raw bytes it received.
    verbose = json.loads(client("manifest", "inspect", "--insecure", "--verbose", reference))
    assert verbose["Ref"] == reference
    assert verbose["Descriptor"]["digest"] == image.digest
    assert verbose["Descriptor"]["size"] == len(image.manifest)
    assert verbose["Descriptor"]["mediaType"] == OCI_MANIFEST
    assert base64.b64decode(verbose["Raw"]) == image.manifest

    assert client.manifest(f"{fresh_regd.host}/{NAME}@{image.digest}") == shown

    missing = client.result("manifest", "inspect", "--insecure", f"{fresh_regd.host}/{NAME}:nope")
    assert missing.returncode != 0
    assert "no such manifest" in (missing.stdout + missing.stderr).lower()
