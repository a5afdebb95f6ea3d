"""Writing (and reading back) a small OCI image layout, so e2e tests need no network or engine.

The image is real: a gzip'd tar layer holding a few files, an OCI image config whose
``rootfs.diff_ids`` are the digests of the uncompressed tars, a manifest, ``index.json`` and
``oci-layout``. Everything is deterministic (fixed mtimes and owners, gzip without a
timestamp), so the same arguments always give the same digests, and ``seed`` makes distinct
images for tests that must not share blobs.
"""

from __future__ import annotations

import gzip
import io
import json
import platform
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.oci import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    push_blob,
    push_manifest,
)

REF_NAME = "org.opencontainers.image.ref.name"
#: A fixed timestamp (2024-01-01T00:00:00Z) for tar entries and the config.
EPOCH = 1_704_067_200
CREATED = "2024-01-01T00:00:00Z"
_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_architecture() -> str:
    """The Go architecture name of this machine (so podman does not pick another platform)."""
    machine = platform.machine().lower()
    return _GOARCH.get(machine, machine)


@dataclass(frozen=True)
class Layer:
    """One layer: its gzip'd tar (the blob), and the uncompressed tar's digest (diff_id)."""

    blob: bytes
    digest: str
    diff_id: str
    files: dict[str, bytes]


@dataclass(frozen=True)
class LayoutImage:
    """An image written into an OCI image layout directory under ``tag``."""

    path: Path
    tag: str
    manifest: bytes
    digest: str
    config: bytes
    config_digest: str
    layers: list[Layer]

    @property
    def reference(self) -> str:
        """The ``oci:DIR:TAG`` transport reference skopeo and podman understand."""
        return f"oci:{self.path}:{self.tag}"

    @property
    def layer_digests(self) -> list[str]:
        return [layer.digest for layer in self.layers]

    @property
    def blob_digests(self) -> list[str]:
        """The config and the layers: every blob the manifest references."""
        return [self.config_digest, *self.layer_digests]


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of ``files`` (``path -> content``) with their parent directories."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories: set[str] = set()
        for path in sorted(files):
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in directories:
                    directories.add(directory)
                    tar.addfile(_entry(directory + "/", tarfile.DIRTYPE, 0o755))
        for path in sorted(files):
            content = files[path]
            info = _entry(path, tarfile.REGTYPE, 0o644)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _entry(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def make_layer(files: dict[str, bytes]) -> Layer:
    tar = layer_tar(files)
    blob = gzip.compress(tar, compresslevel=6, mtime=0)
    return Layer(blob=blob, digest=digest_of(blob), diff_id=digest_of(tar), files=dict(files))


def default_files(seed: str) -> list[dict[str, bytes]]:
    """Two layers with a couple of files each; ``seed`` changes every blob's digest."""
    return [
        {
            "etc/regd-e2e/hello.txt": f"hello from regd e2e ({seed})\n".encode(),
            "etc/regd-e2e/seed": seed.encode(),
        },
        {
            "usr/share/regd-e2e/data.bin": bytes(range(256)) * 16 + seed.encode(),
            "usr/share/regd-e2e/README": b"a test image built without a container engine\n",
        },
    ]


def image_config(layers: list[Layer], seed: str) -> bytes:
    document: dict[str, Any] = {
        "created": CREATED,
        "architecture": host_architecture(),
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Labels": {"org.example.regd-e2e.seed": seed},
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [
            {"created": CREATED, "created_by": f"tests/support/images.py layer {index}"}
            for index in range(len(layers))
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True).encode()


def write_image_layout(
    directory: Path,
    tag: str = "1.0",
    *,
    seed: str = "e2e",
    files: list[dict[str, bytes]] | None = None,
) -> LayoutImage:
    """Write an OCI image layout holding one image tagged ``tag``; what was written."""
    layers = [make_layer(layer_files) for layer_files in (files or default_files(seed))]
    config = image_config(layers, seed)
    manifest_document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [
            {"mediaType": OCI_LAYER, "digest": layer.digest, "size": len(layer.blob)}
            for layer in layers
        ],
        "annotations": {"org.opencontainers.image.created": CREATED},
    }
    manifest = json.dumps(manifest_document, indent=2).encode()

    directory.mkdir(parents=True, exist_ok=True)
    for blob in (config, manifest, *(layer.blob for layer in layers)):
        _write_blob(directory, blob)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [descriptor(OCI_MANIFEST, manifest, annotations={REF_NAME: tag})],
    }
    (directory / "index.json").write_text(json.dumps(index, indent=2))
    return LayoutImage(
        path=directory,
        tag=tag,
        manifest=manifest,
        digest=digest_of(manifest),
        config=config,
        config_digest=digest_of(config),
        layers=layers,
    )


def _write_blob(directory: Path, blob: bytes) -> None:
    algorithm, _, hexdigest = digest_of(blob).partition(":")
    path = directory / "blobs" / algorithm / hexdigest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)


def read_blob(directory: Path, digest: str) -> bytes:
    """A blob of an image layout, checked against its digest."""
    algorithm, _, hexdigest = digest.partition(":")
    blob = (directory / "blobs" / algorithm / hexdigest).read_bytes()
    assert digest_of(blob, algorithm) == digest, f"{digest} in {directory} is corrupt"
    return blob


def read_layout_manifest(directory: Path, tag: str) -> tuple[str, bytes]:
    """The digest and bytes of the manifest tagged ``tag`` in an image layout."""
    index = json.loads((directory / "index.json").read_text())
    found = [
        entry
        for entry in index["manifests"]
        if (entry.get("annotations") or {}).get(REF_NAME) == tag
    ]
    assert len(found) == 1, f"{tag!r} in {directory}/index.json: {index}"
    digest: str = found[0]["digest"]
    return digest, read_blob(directory, digest)


def push_layout_image(http: httpx.Client, image: LayoutImage, name: str, tag: str) -> None:
    """Push an image from its layout as-is over the /v2/ API (for tests about other clients)."""
    for digest in image.blob_digests:
        push_blob(http, name, read_blob(image.path, digest))
    response = push_manifest(http, name, tag, image.manifest)
    assert response.status_code == 201, response.text
