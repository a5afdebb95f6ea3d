"""skopeo against regd: push from an OCI layout, pull back byte for byte, inspect, list tags,
delete, and copy between two repositories with cross-repository blob mounts.

skopeo logs in as ``admin`` (``--creds``, ``--src-creds``, ``--dest-creds``) and goes through
regd's token service like any registry client: a 401 challenge, ``GET /token`` with Basic
credentials, then a Bearer registry token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.clients import Skopeo, make_skopeo
from tests.e2e.conftest import accesses, sync_log
from tests.support.images import read_blob, read_layout_manifest, write_image_layout
from tests.support.oci import OCI_MANIFEST, digest_of, error_codes
from tests.support.server import RegdProcess, start_regd

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("skopeo")]

NAME = "acc-x/myapp/myapp"


@pytest.fixture(scope="module")
def skopeo_regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    """A regd for this module's tests (they share it, hence one xdist group)."""
    server = start_regd(tmp_path_factory.mktemp("skopeo-regd"))
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture
def client(skopeo: str, tmp_path: Path, skopeo_regd: RegdProcess) -> Skopeo:
    return make_skopeo(skopeo, tmp_path / "skopeo", skopeo_regd, skopeo_regd.admin_creds)


@pytest.fixture
def http(skopeo_regd: RegdProcess) -> Iterator[httpx.Client]:
    with skopeo_regd.client() as client:
        yield client


def test_push_then_pull_back_byte_identical(
    client: Skopeo, http: httpx.Client, tmp_path: Path
) -> None:
    image = write_image_layout(tmp_path / "src", "1.0", seed="skopeo-roundtrip")
    client.push(image, NAME, "1.0")

    # regd stored the manifest exactly as skopeo sent it, and skopeo sent the layout's bytes.
    response = http.get(f"/v2/{NAME}/manifests/1.0", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == image.digest
    assert response.content == image.manifest
    for digest in image.blob_digests:
        blob = http.get(f"/v2/{NAME}/blobs/{digest}")
        assert blob.status_code == 200, (digest, blob.text)
        assert digest_of(blob.content) == digest

    back = tmp_path / "back"
    client.pull(NAME, "1.0", back)
    digest, manifest = read_layout_manifest(back, "1.0")
    assert digest == image.digest
    assert manifest == image.manifest
    copied = json.loads(manifest)
    assert copied["config"]["digest"] == image.config_digest
    assert [layer["digest"] for layer in copied["layers"]] == image.layer_digests
    assert read_blob(back, image.config_digest) == image.config
    for layer in image.layers:
        assert read_blob(back, layer.digest) == layer.blob


def test_inspect(client: Skopeo, tmp_path: Path) -> None:
    name = "acc-x/inspect/app"
    image = write_image_layout(tmp_path / "src", "1.0", seed="skopeo-inspect")
    client.push(image, name, "1.0")

    info = json.loads(client("inspect", *client.remote, client.ref(name, "1.0")))
    assert info["Name"] == f"{client.regd.host}/{name}"
    assert info["Digest"] == image.digest
    assert info["Layers"] == image.layer_digests
    assert "1.0" in info["RepoTags"]
    config = json.loads(image.config)
    assert info["Architecture"] == config["architecture"]
    assert info["Labels"] == config["config"]["Labels"]

    raw = client("inspect", *client.remote, "--raw", client.ref(name, "1.0"))
    assert raw.encode() == image.manifest
    by_digest = f"docker://{client.regd.host}/{name}@{image.digest}"
    assert json.loads(client("inspect", *client.remote, "--config", by_digest)) == config


def test_list_tags(client: Skopeo, tmp_path: Path) -> None:
    name = "acc-x/tags/app"
    first = write_image_layout(tmp_path / "one", "1.0", seed="skopeo-tags-1")
    second = write_image_layout(tmp_path / "two", "2.0", seed="skopeo-tags-2")
    client.push(first, name, "1.0")
    client.push(second, name, "2.0")
    client.push(second, name, "latest")

    listed = json.loads(client("list-tags", *client.remote, f"docker://{client.regd.host}/{name}"))
    assert listed["Repository"] == f"{client.regd.host}/{name}"
    assert sorted(listed["Tags"]) == ["1.0", "2.0", "latest"]


def test_delete(client: Skopeo, http: httpx.Client, tmp_path: Path) -> None:
    name = "acc-x/delete/app"
    doomed = write_image_layout(tmp_path / "doomed", "1.0", seed="skopeo-delete")
    kept = write_image_layout(tmp_path / "kept", "2.0", seed="skopeo-keep")
    client.push(doomed, name, "1.0")
    client.push(kept, name, "2.0")
    assert http.get(f"/v2/{name}/manifests/1.0").status_code == 200

    # skopeo resolves the tag and deletes the manifest by digest.
    client("delete", *client.remote, client.ref(name, "1.0"))

    gone = http.get(f"/v2/{name}/manifests/1.0", headers={"Accept": OCI_MANIFEST})
    assert gone.status_code == 404, gone.text
    assert error_codes(gone) == ["MANIFEST_UNKNOWN"]
    by_digest = http.get(f"/v2/{name}/manifests/{doomed.digest}")
    assert by_digest.status_code == 404, by_digest.text
    assert "1.0" not in http.get(f"/v2/{name}/tags/list").json()["tags"]
    gone_output = client.failing("inspect", *client.remote, client.ref(name, "1.0"))
    assert "manifest unknown" in gone_output.lower(), gone_output
    # The other image of the repository is untouched.
    still = http.get(f"/v2/{name}/manifests/2.0", headers={"Accept": OCI_MANIFEST})
    assert still.status_code == 200
    assert still.content == kept.manifest


# -- copy between repositories: blobs are mounted, not uploaded again ----------------------


def test_copy_between_repositories_mounts_blobs(
    skopeo: str, logged_regd: RegdProcess, tmp_path: Path
) -> None:
    client = make_skopeo(skopeo, tmp_path / "skopeo", logged_regd, logged_regd.admin_creds)
    image = write_image_layout(tmp_path / "src", "1", seed="skopeo-mount")
    client.push(image, "a/src", "1")
    start = sync_log(logged_regd)

    client("copy", *client.src, *client.dest, client.ref("a/src", "1"), client.ref("b/dst", "1"))
    end = sync_log(logged_regd)
    second_copy = accesses(logged_regd.log_lines[start:end])
    assert second_copy, logged_regd.log

    # skopeo authenticated through the token service, asking to push to the destination and,
    # to mount from it, to pull from the source.
    tokens = [access for access in second_copy if access.path == "/token"]
    assert tokens, second_copy
    assert all(access.status == 200 for access in tokens), tokens
    scopes = {scope for access in tokens for scope in access.scopes}
    assert {"repository:b/dst:pull,push", "repository:a/src:pull"} <= scopes, tokens

    uploads = "/v2/b/dst/blobs/uploads/"
    mounts = {
        access.query["mount"]: access
        for access in second_copy
        if access.method == "POST" and access.path == uploads and "mount" in access.query
    }
    for digest in image.layer_digests:
        assert digest in mounts, f"{digest} was not mounted:\n{second_copy}"
        assert mounts[digest].query.get("from") == "a/src"
        assert mounts[digest].status == 201, mounts[digest]

    # No layer went over the wire again. (skopeo/containers-image sends the small config blob
    # through its plain upload path, which never tries a mount: that upload is expected.)
    sessions = [
        access
        for access in second_copy
        if access.method in ("PATCH", "PUT") and access.path.startswith(uploads)
    ]
    finished = {access.query.get("digest") for access in sessions if access.method == "PUT"}
    assert finished <= {image.config_digest}, sessions
    patched = {access.path for access in sessions if access.method == "PATCH"}
    put = {access.path for access in sessions if access.method == "PUT"}
    assert patched <= put, f"PATCHed upload sessions that were not the config's: {sessions}"

    with logged_regd.client() as http:
        copied = http.get("/v2/b/dst/manifests/1", headers={"Accept": OCI_MANIFEST})
        assert copied.status_code == 200
        assert copied.content == image.manifest
        for layer in image.layers:
            blob = http.get(f"/v2/b/dst/blobs/{layer.digest}")
            assert blob.status_code == 200
            assert blob.content == layer.blob
