"""Pushing content to a registry over plain HTTP, for API tests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data), **extra}


def push_blob(client: httpx.Client, name: str, data: bytes) -> str:
    """Monolithic POST ``?digest=``; the digest."""
    digest = digest_of(data)
    response = client.post(f"/v2/{name}/blobs/uploads/", params={"digest": digest}, content=data)
    assert response.status_code == 201, response.text
    return digest


@dataclass
class Image:
    name: str
    manifest: bytes
    digest: str
    config: bytes
    layers: list[bytes]


def image_manifest(config: bytes, layers: list[bytes], **extra: Any) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, layer) for layer in layers],
        **extra,
    }
    return json.dumps(document).encode()


def push_manifest(
    client: httpx.Client, name: str, reference: str, manifest: bytes, media_type: str = OCI_MANIFEST
) -> httpx.Response:
    return client.put(
        f"/v2/{name}/manifests/{reference}", content=manifest, headers={"Content-Type": media_type}
    )


def push_image(client: httpx.Client, name: str, tag: str, seed: str = "x", **extra: Any) -> Image:
    """Push a small image (config + two layers) and tag it."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layers = [f"layer-one-{seed}".encode(), f"layer-two-{seed}".encode()]
    for blob in (config, *layers):
        push_blob(client, name, blob)
    manifest = image_manifest(config, layers, **extra)
    response = push_manifest(client, name, tag, manifest)
    assert response.status_code == 201, response.text
    return Image(name, manifest, digest_of(manifest), config, layers)


def error_codes(response: httpx.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]
