"""Pushing content to a registry over plain HTTP, for API tests."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from dataclasses import dataclass
from pathlib import Path
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


# -- more media types, errors and upload sessions (API tests) -------------------------------

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
#: The empty JSON blob, the config of artifacts without one.
EMPTY_BLOB = b"{}"


def assert_oci_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is ``status`` with the spec's error body naming ``code``; the first error."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    body = response.json()
    assert isinstance(body, dict)
    assert set(body) == {"errors"}, body
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)
        assert error["message"]
    assert [error["code"] for error in errors] == [code], body
    return dict(errors[0])


@dataclass
class Session:
    """An upload session, as POST answered it."""

    name: str
    location: str
    uuid: str


def start_upload(client: httpx.Client, name: str) -> Session:
    """POST a session (202 with Location, Range and Docker-Upload-UUID)."""
    response = client.post(f"/v2/{name}/blobs/uploads/")
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    uuid = response.headers["Docker-Upload-UUID"]
    assert location.endswith("/" + uuid), location
    assert response.headers["Range"] == "0-0"
    return Session(name, location, uuid)


def upload_range(response: httpx.Response) -> int:
    """The bytes an upload holds, from its ``Range: 0-<last>`` header (0-0 reads as 0 or 1)."""
    start, _, last = response.headers["Range"].partition("-")
    assert start == "0", response.headers["Range"]
    return int(last) + 1


def blob_path(data_dir: Path, digest: str) -> Path:
    """Where the filesystem store keeps a committed blob."""
    algorithm, hexdigest = digest.split(":")
    return data_dir / "blobs" / algorithm / hexdigest[:2] / hexdigest


def basic_auth(username: str, password: str) -> str:
    """An ``Authorization`` header value, for hand-written requests."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def send_truncated(url: str, head: str, body: bytes, authorization: str | None = None) -> None:
    """Send a request's head and ``body`` on a raw socket, then close it, whatever the head's
    Content-Length or Transfer-Encoding promised (so the server sees a truncated body)."""
    host, _, port = httpx.URL(url).netloc.decode().partition(":")
    lines = head.rstrip("\r\n").split("\r\n")
    lines.insert(1, f"Host: {host}:{port}")
    if authorization:
        lines.insert(2, f"Authorization: {authorization}")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
