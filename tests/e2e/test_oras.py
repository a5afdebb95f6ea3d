"""ORAS against regd: an artifact with an ``artifactType`` and a ``subject``, and its referrers.

Why the Python SDK stands in for the ``oras`` CLI: the CLI is a Go binary that is neither
packaged in Debian nor published on PyPI or npm, and these tests install nothing from the
network. The ORAS project's own Python SDK (PyPI ``oras``, from oras-project/oras-py) is a
real, independent ORAS client speaking the same distribution API over HTTP, so it exercises
regd the way an ORAS user would. Its ``push()`` cannot set ``artifactType``, so the artifact
manifest is built here and pushed through the SDK's own ``upload_blob``/``upload_manifest``;
the SDK has no referrers call, so the referrers API is read with httpx.

The SDK logs in as ``admin`` and uses its token auth backend: it trades the credentials at
regd's ``/token`` for a Bearer registry token, which regd's access log shows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import oras.defaults
import oras.oci
import pytest

from tests.e2e.accounts import ADMIN
from tests.e2e.clients import oras_client, oras_token_for_push
from tests.e2e.conftest import accesses, sync_log
from tests.support.images import LayoutImage, push_layout_image, write_image_layout
from tests.support.oci import EMPTY_JSON, OCI_INDEX, OCI_MANIFEST
from tests.support.server import RegdProcess

pytestmark = pytest.mark.e2e

NAME = "acc-x/oras/app"
SBOM_TYPE = "application/vnd.example.sbom.v1+json"
SIGNATURE_TYPE = "application/vnd.example.signature.v1"
EMPTY_CONFIG = b"{}"


@dataclass
class Pushed:
    """An artifact manifest as the SDK pushed it, and regd's answer."""

    manifest: dict[str, Any]
    digest: str
    subject: str | None


def _push_artifact(
    client: Any,
    target: str,
    artifact_type: str,
    files: list[tuple[Path, str]],
    subject: LayoutImage,
    annotations: dict[str, str],
) -> Pushed:
    """Push ``files`` (path, media type) through the SDK as an artifact referring to ``subject``."""
    container = client.get_container(target)
    layers = []
    for path, media_type in files:
        layer = oras.oci.NewLayer(str(path), media_type=media_type)
        layer["annotations"] = {oras.defaults.annotation_title: path.name}
        response = client.upload_blob(str(path), container, layer)
        assert response.status_code in (200, 201), response.text
        layers.append(layer)
    config_path = files[0][0].parent / "config.json"
    config_path.write_bytes(EMPTY_CONFIG)
    config = oras.oci.NewLayer(str(config_path), media_type=EMPTY_JSON)
    assert config["digest"] == oras.defaults.blank_config_hash
    response = client.upload_blob(str(config_path), container, config)
    assert response.status_code in (200, 201), response.text

    manifest: dict[str, Any] = oras.oci.NewManifest()
    manifest.update(
        artifactType=artifact_type,
        config=config,
        layers=layers,
        subject=asdict(oras.oci.Subject(OCI_MANIFEST, subject.digest, len(subject.manifest))),
        annotations=annotations,
    )
    response = client.upload_manifest(manifest, container)
    assert response.status_code == 201, response.text
    return Pushed(
        manifest, response.headers["Docker-Content-Digest"], response.headers.get("OCI-Subject")
    )


@pytest.fixture
def http(logged_regd: RegdProcess) -> Iterator[httpx.Client]:
    with logged_regd.client() as client:
        yield client


def test_artifact_with_subject_and_referrers(
    logged_regd: RegdProcess, http: httpx.Client, tmp_path: Path
) -> None:
    regd = logged_regd
    image = write_image_layout(tmp_path / "layout", "1.0", seed="oras")
    push_layout_image(http, image, NAME, "1.0")
    start = sync_log(regd)

    client = oras_client(regd, ADMIN.name, ADMIN.secret, tmp_path / "docker-config.json")
    oras_token_for_push(client, regd, NAME)
    source = tmp_path / "artifact"
    source.mkdir()
    sbom = source / "sbom.spdx.json"
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "app"}))
    notes = source / "notes.bin"
    notes.write_bytes(os.urandom(4096))
    sbom_annotations = {"org.example.kind": "sbom"}
    pushed = _push_artifact(
        client,
        f"{regd.host}/{NAME}:sbom",
        SBOM_TYPE,
        [(sbom, "application/spdx+json"), (notes, "application/octet-stream")],
        image,
        sbom_annotations,
    )
    assert pushed.subject == image.digest
    sbom_digest = pushed.digest

    signature_dir = tmp_path / "signature"
    signature_dir.mkdir()
    signature = signature_dir / "signature.sig"
    signature.write_bytes(b"not really a signature\n")
    signed = _push_artifact(
        client,
        f"{regd.host}/{NAME}:signature",
        SIGNATURE_TYPE,
        [(signature, "application/octet-stream")],
        image,
        {"org.example.kind": "signature"},
    )
    assert signed.subject == image.digest
    signature_digest = signed.digest

    # Pulled back through the SDK, by digest: the same files, byte for byte.
    fetched = client.get_manifest(f"{regd.host}/{NAME}@{sbom_digest}")
    assert fetched["artifactType"] == SBOM_TYPE
    assert fetched["subject"]["digest"] == image.digest
    assert fetched == json.loads(json.dumps(pushed.manifest))
    out = tmp_path / "pulled"
    files = client.pull(target=f"{regd.host}/{NAME}@{sbom_digest}", outdir=str(out))
    assert sorted(Path(file).name for file in files) == ["notes.bin", "sbom.spdx.json"]
    assert (out / "sbom.spdx.json").read_bytes() == sbom.read_bytes()
    assert (out / "notes.bin").read_bytes() == notes.read_bytes()
    assert sorted(client.get_tags(f"{regd.host}/{NAME}")) == ["1.0", "sbom", "signature"]

    # The SDK went through the token service, and its registry token was good for all of it.
    sdk = accesses(regd.log_lines[start : sync_log(regd)])
    tokens = [access for access in sdk if access.path == "/token"]
    assert [(t.method, t.status, t.user_agent) for t in tokens] == [("GET", 200, "oras-py")], sdk
    assert tokens[0].scopes == (f"repository:{NAME}:pull,push",), tokens
    after = sdk[sdk.index(tokens[0]) + 1 :]
    assert after, sdk
    assert all(access.status not in (401, 403) for access in after), after

    # Referrers of the image: both artifacts, then only the one of the asked-for type.
    every = http.get(f"/v2/{NAME}/referrers/{image.digest}")
    assert every.status_code == 200, every.text
    assert every.headers["Content-Type"].split(";")[0] == OCI_INDEX
    assert "OCI-Filters-Applied" not in every.headers
    index = every.json()
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    by_digest = {entry["digest"]: entry for entry in index["manifests"]}
    assert set(by_digest) == {sbom_digest, signature_digest}
    sbom_entry = by_digest[sbom_digest]
    assert sbom_entry["mediaType"] == OCI_MANIFEST
    assert sbom_entry["artifactType"] == SBOM_TYPE
    sbom_manifest = http.get(f"/v2/{NAME}/manifests/{sbom_digest}").content
    assert sbom_entry["size"] == len(sbom_manifest)
    assert by_digest[signature_digest]["artifactType"] == SIGNATURE_TYPE
    # "The descriptors MUST include annotations from the image manifest" (distribution-spec).
    assert sbom_entry.get("annotations") == sbom_annotations, sbom_entry

    filtered = http.get(f"/v2/{NAME}/referrers/{image.digest}", params={"artifactType": SBOM_TYPE})
    assert filtered.status_code == 200, filtered.text
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [entry["digest"] for entry in filtered.json()["manifests"]] == [sbom_digest]

    none = http.get(
        f"/v2/{NAME}/referrers/{image.digest}", params={"artifactType": "application/x-none"}
    )
    assert none.status_code == 200
    assert none.json()["manifests"] == []
