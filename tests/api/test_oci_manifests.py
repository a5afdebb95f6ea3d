"""Manifests of every kind: PUT, GET, HEAD and DELETE by tag and by digest, and refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.oci import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    EMPTY_BLOB,
    EMPTY_JSON,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    assert_oci_error,
    descriptor,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
)

_MAX = 4 * 1024 * 1024
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"


@dataclass
class Pushed:
    """A manifest of some kind, pushed (not yet by the test) to ``name``."""

    name: str
    media_type: str
    content: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.content)


def _odd_json(document: dict[str, Any]) -> bytes:
    """Valid JSON nobody would produce: keys reversed, odd spacing, a trailing newline."""
    items = list(reversed(document.items()))
    body = ",\n\t ".join(
        f"{json.dumps(key)}  :{json.dumps(value, indent=3)}" for key, value in items
    )
    return ("{ \n" + body + "   }\n").encode()


def _oci_image(client: httpx.Client, name: str) -> Pushed:
    config = json.dumps({"architecture": "arm64", "os": "linux", "repo": name}).encode()
    layer = f"oci layer of {name}".encode()
    push_blob(client, name, config)
    push_blob(client, name, layer)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, layer)],
        "annotations": {"org.opencontainers.image.title": "odd ✓"},
    }
    return Pushed(name, OCI_MANIFEST, _odd_json(document))


def _docker_image(client: httpx.Client, name: str) -> Pushed:
    config = json.dumps({"architecture": "amd64", "os": "linux", "docker": name}).encode()
    layer = f"docker layer of {name}".encode()
    push_blob(client, name, config)
    push_blob(client, name, layer)
    document = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor(DOCKER_CONFIG, config),
        "layers": [descriptor(DOCKER_LAYER, layer)],
    }
    return Pushed(name, DOCKER_MANIFEST, _odd_json(document))


def _index(client: httpx.Client, name: str, media_type: str, child: Pushed) -> Pushed:
    response = push_manifest(client, name, child.digest, child.content, child.media_type)
    assert response.status_code == 201, response.text
    platform = {"architecture": "amd64", "os": "linux"}
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [descriptor(child.media_type, child.content, platform=platform)],
    }
    return Pushed(name, media_type, _odd_json(document))


def _oci_index(client: httpx.Client, name: str) -> Pushed:
    return _index(client, name, OCI_INDEX, _oci_image(client, name))


def _docker_list(client: httpx.Client, name: str) -> Pushed:
    return _index(client, name, DOCKER_MANIFEST_LIST, _docker_image(client, name))


def _artifact(client: httpx.Client, name: str) -> Pushed:
    subject = push_image(client, name, "subject", seed=name)
    push_blob(client, name, EMPTY_BLOB)
    sbom = f"sbom of {name}".encode()
    push_blob(client, name, sbom)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1+json",
        "config": descriptor(EMPTY_JSON, EMPTY_BLOB),
        "layers": [descriptor("application/vnd.example.sbom.v1+json", sbom)],
        "subject": descriptor(OCI_MANIFEST, subject.manifest),
        "annotations": {"org.example.kind": "sbom"},
    }
    return Pushed(name, OCI_MANIFEST, _odd_json(document))


KINDS = {
    "oci-image": _oci_image,
    "oci-index": _oci_index,
    "docker-schema2": _docker_image,
    "docker-list": _docker_list,
    "artifact": _artifact,
}


def _expect_manifest(client: httpx.Client, pushed: Pushed, reference: str) -> None:
    path = f"/v2/{pushed.name}/manifests/{reference}"
    got = client.get(path, headers={"Accept": pushed.media_type})
    assert got.status_code == 200, got.text
    assert got.content == pushed.content
    assert got.headers["Content-Type"] == pushed.media_type
    assert got.headers["Docker-Content-Digest"] == pushed.digest
    assert got.headers["Content-Length"] == str(len(pushed.content))
    head = client.head(path, headers={"Accept": pushed.media_type})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Type"] == pushed.media_type
    assert head.headers["Docker-Content-Digest"] == pushed.digest
    assert head.headers["Content-Length"] == str(len(pushed.content))


def _tags(client: httpx.Client, name: str) -> list[str]:
    """The repository's tags, but for the artifact's subject."""
    tags = client.get(f"/v2/{name}/tags/list").json()["tags"]
    return [tag for tag in tags if tag != "subject"]


@pytest.mark.parametrize("kind", KINDS)
def test_put_get_head_delete_by_tag_and_digest(http: httpx.Client, kind: str) -> None:
    name = f"manifests-kinds/{kind}"
    pushed = KINDS[kind](http, name)
    put = push_manifest(http, name, "v1", pushed.content, pushed.media_type)
    assert put.status_code == 201, put.text
    assert put.headers["Docker-Content-Digest"] == pushed.digest
    assert put.headers["Location"] == f"/v2/{name}/manifests/{pushed.digest}"
    _expect_manifest(http, pushed, "v1")
    _expect_manifest(http, pushed, pushed.digest)
    # By digest too (idempotent), then a second tag.
    by_digest = push_manifest(http, name, pushed.digest, pushed.content, pushed.media_type)
    assert by_digest.status_code == 201
    assert by_digest.headers["Docker-Content-Digest"] == pushed.digest
    for tag in ("v2", "v2b"):
        assert push_manifest(http, name, tag, pushed.content, pushed.media_type).status_code == 201
    assert _tags(http, name) == ["v1", "v2", "v2b"]

    # DELETE by tag removes only that tag.
    assert http.delete(f"/v2/{name}/manifests/v1").status_code == 202
    assert_oci_error(http.get(f"/v2/{name}/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    _expect_manifest(http, pushed, pushed.digest)
    _expect_manifest(http, pushed, "v2")
    assert _tags(http, name) == ["v2", "v2b"]

    # DELETE by digest removes the manifest and every tag pointing at it.
    assert http.delete(f"/v2/{name}/manifests/{pushed.digest}").status_code == 202
    for reference in (pushed.digest, "v2", "v2b"):
        assert_oci_error(http.get(f"/v2/{name}/manifests/{reference}"), 404, "MANIFEST_UNKNOWN")
        assert http.head(f"/v2/{name}/manifests/{reference}").status_code == 404
    assert _tags(http, name) == []
    assert_oci_error(http.delete(f"/v2/{name}/manifests/{pushed.digest}"), 404, "MANIFEST_UNKNOWN")

    # Pushed again, it is back, byte for byte.
    assert push_manifest(http, name, "v3", pushed.content, pushed.media_type).status_code == 201
    _expect_manifest(http, pushed, "v3")


def test_digest_is_of_the_bytes_as_pushed(http: httpx.Client) -> None:
    pushed = _oci_image(http, "manifests-bytes")
    compact = json.dumps(json.loads(pushed.content), separators=(",", ":")).encode()
    assert compact != pushed.content
    for tag, content in (("odd", pushed.content), ("compact", compact)):
        response = push_manifest(http, "manifests-bytes", tag, content)
        assert response.status_code == 201
        assert response.headers["Docker-Content-Digest"] == digest_of(content)
        got = http.get(f"/v2/manifests-bytes/manifests/{tag}")
        assert got.content == content
        assert got.headers["Docker-Content-Digest"] == digest_of(content)
    assert digest_of(pushed.content) != digest_of(compact)


def test_artifact_with_subject_answers_oci_subject(http: httpx.Client) -> None:
    pushed = _artifact(http, "manifests-subject")
    subject = json.loads(pushed.content)["subject"]["digest"]
    put = push_manifest(http, pushed.name, pushed.digest, pushed.content)
    assert put.status_code == 201
    assert put.headers["OCI-Subject"] == subject
    # A manifest without a subject gets no such header.
    plain = push_image(http, "manifests-subject", "plain", seed="manifests-subject-plain")
    again = push_manifest(http, "manifests-subject", "plain", plain.manifest)
    assert "OCI-Subject" not in again.headers


def test_subject_need_not_exist(http: httpx.Client) -> None:
    push_blob(http, "manifests-dangling-subject", EMPTY_BLOB)
    missing = {"mediaType": OCI_MANIFEST, "digest": digest_of(b"not pushed"), "size": 10}
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": descriptor(EMPTY_JSON, EMPTY_BLOB),
        "layers": [descriptor(EMPTY_JSON, EMPTY_BLOB)],
        "subject": missing,
    }
    content = json.dumps(document).encode()
    put = push_manifest(http, "manifests-dangling-subject", digest_of(content), content)
    assert put.status_code == 201, put.text
    assert put.headers["OCI-Subject"] == missing["digest"]


def test_tag_moves_to_a_new_manifest(http: httpx.Client) -> None:
    first = push_image(http, "manifests-retag", "latest", seed="retag-1")
    assert http.get("/v2/manifests-retag/manifests/latest").content == first.manifest
    second = push_image(http, "manifests-retag", "latest", seed="retag-2")
    got = http.get("/v2/manifests-retag/manifests/latest")
    assert got.content == second.manifest
    assert got.headers["Docker-Content-Digest"] == second.digest
    # The old manifest is still there by digest.
    assert http.get(f"/v2/manifests-retag/manifests/{first.digest}").content == first.manifest


def test_content_type_without_media_type_field(http: httpx.Client) -> None:
    """An OCI manifest may leave out mediaType: the Content-Type says what it is."""
    config, layer = b'{"os":"linux"}', b"layer without media type field"
    push_blob(http, "manifests-nomediatype", config)
    push_blob(http, "manifests-nomediatype", layer)
    document = {
        "schemaVersion": 2,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, layer)],
    }
    content = json.dumps(document).encode()
    assert push_manifest(http, "manifests-nomediatype", "v1", content).status_code == 201
    got = http.get("/v2/manifests-nomediatype/manifests/v1")
    assert got.headers["Content-Type"] == OCI_MANIFEST
    assert got.content == content


def test_manifests_are_per_repository(http: httpx.Client) -> None:
    image = push_image(http, "manifests-isolation/a", "v1", seed="manifests-isolation")
    push_image(http, "manifests-isolation/b", "other", seed="manifests-isolation-b")
    response = http.get(f"/v2/manifests-isolation/b/manifests/{image.digest}")
    assert_oci_error(response, 404, "MANIFEST_UNKNOWN")
    assert_oci_error(http.get("/v2/manifests-isolation/b/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    # Referencing a's blobs from b is refused: b never received them.
    refused = push_manifest(http, "manifests-isolation/b", "copy", image.manifest)
    assert_oci_error(refused, 400, "MANIFEST_BLOB_UNKNOWN")


# -- refusals ------------------------------------------------------------------------------


def test_missing_config_or_layer_is_manifest_blob_unknown(http: httpx.Client) -> None:
    config, layer = b'{"os":"linux","missing":1}', b"layer that is pushed"
    push_blob(http, "manifests-missing", config)
    push_blob(http, "manifests-missing", layer)
    missing = b"layer that is never pushed"
    manifest = image_manifest(config, [layer, missing])
    error = assert_oci_error(
        push_manifest(http, "manifests-missing", "v1", manifest), 400, "MANIFEST_BLOB_UNKNOWN"
    )
    assert error["detail"] == {"digest": digest_of(missing)}
    no_config = image_manifest(b"config never pushed", [layer])
    response = push_manifest(http, "manifests-missing", "v2", no_config)
    assert_oci_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert http.get("/v2/manifests-missing/tags/list").json()["tags"] == []
    for content in (manifest, no_config):
        response = http.get(f"/v2/manifests-missing/manifests/{digest_of(content)}")
        assert_oci_error(response, 404, "MANIFEST_UNKNOWN")


def test_manifest_into_a_new_repository_with_missing_blobs(http: httpx.Client) -> None:
    manifest = image_manifest(b"nothing", [b"pushed"])
    response = push_manifest(http, "manifests-missing-new", "v1", manifest)
    assert_oci_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert_oci_error(http.get("/v2/manifests-missing-new/tags/list"), 404, "NAME_UNKNOWN")


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_MANIFEST_LIST])
def test_index_with_unknown_child_is_manifest_blob_unknown(
    http: httpx.Client, media_type: str
) -> None:
    name = "manifests-badindex"
    known = push_image(http, name, "known", seed=name)
    unknown = image_manifest(b"{}", [b"unknown child"])
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            descriptor(OCI_MANIFEST, known.manifest),
            descriptor(OCI_MANIFEST, unknown),
        ],
    }
    content = json.dumps(document).encode()
    response = push_manifest(http, name, "index", content, media_type)
    error = assert_oci_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert error["detail"] == {"digest": digest_of(unknown)}
    assert_oci_error(http.get(f"/v2/{name}/manifests/index"), 404, "MANIFEST_UNKNOWN")
    # A blob is not a manifest: an index cannot list a layer as a child.
    blob_child = dict(document, manifests=[descriptor(OCI_MANIFEST, known.layers[0])])
    response = push_manifest(http, name, "index", json.dumps(blob_child).encode(), media_type)
    assert_oci_error(response, 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"[1, 2, 3]",
        b'"a string"',
        b"\xff\xfe\x00garbage",
        json.dumps({"schemaVersion": 1, "mediaType": OCI_MANIFEST}).encode(),
        json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode(),  # no config
        json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": "sha256:x"}}
        ).encode(),
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": {}}).encode(),
        json.dumps({"schemaVersion": 2, "mediaType": "text/plain"}).encode(),
        json.dumps({"schemaVersion": 1, "mediaType": DOCKER_SCHEMA1}).encode(),
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor(EMPTY_JSON, EMPTY_BLOB),
                "layers": [],
                "annotations": {"org.example.count": 3},
            }
        ).encode(),
    ],
    ids=[
        "truncated",
        "empty",
        "array",
        "string",
        "binary",
        "schema1",
        "no-config",
        "bad-descriptor",
        "manifests-not-a-list",
        "unknown-media-type",
        "docker-schema1",
        "annotation-not-a-string",
    ],
)
def test_malformed_manifest_is_manifest_invalid(http: httpx.Client, content: bytes) -> None:
    push_blob(http, "manifests-invalid", b"exists")
    response = http.put(
        "/v2/manifests-invalid/manifests/v1",
        content=content,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert_oci_error(response, 400, "MANIFEST_INVALID")
    assert_oci_error(http.get("/v2/manifests-invalid/manifests/v1"), 404, "MANIFEST_UNKNOWN")


def test_content_type_contradicting_media_type_is_manifest_invalid(http: httpx.Client) -> None:
    image = push_image(http, "manifests-contradiction", "v1", seed="contradiction")
    response = push_manifest(http, "manifests-contradiction", "v2", image.manifest, OCI_INDEX)
    assert_oci_error(response, 400, "MANIFEST_INVALID")
    assert_oci_error(http.get("/v2/manifests-contradiction/manifests/v2"), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_manifest_over_4_mib_is_413(http: httpx.Client, streamed: bool) -> None:
    image = push_image(http, "manifests-large", "v1", seed="manifests-large")
    document = json.loads(image.manifest)
    document["annotations"] = {"padding": ""}
    base = len(json.dumps(document).encode())
    document["annotations"]["padding"] = "x" * (_MAX + 1 - base)
    content = json.dumps(document).encode()
    assert len(content) == _MAX + 1

    def body() -> Any:
        yield content[: _MAX // 2]
        yield content[_MAX // 2 :]

    response = http.put(
        "/v2/manifests-large/manifests/big",
        content=body() if streamed else content,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] in {"SIZE_INVALID", "MANIFEST_INVALID"}
    assert_oci_error(http.get("/v2/manifests-large/manifests/big"), 404, "MANIFEST_UNKNOWN")
    # Exactly 4 MiB is accepted.
    document["annotations"]["padding"] = "x" * (_MAX - base)
    content = json.dumps(document).encode()
    assert len(content) == _MAX
    assert push_manifest(http, "manifests-large", "max", content).status_code == 201
    assert http.get("/v2/manifests-large/manifests/max").content == content


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_put_by_wrong_digest_is_digest_invalid(http: httpx.Client, algorithm: str) -> None:
    name = f"manifests-wrongdigest/{algorithm}"
    image = push_image(http, name, "v1", seed=name)
    other = image.manifest + b" "
    wrong = digest_of(other, algorithm)
    response = push_manifest(http, name, wrong, image.manifest)
    error = assert_oci_error(response, 400, "DIGEST_INVALID")
    assert error["detail"]["expected"] == wrong
    assert_oci_error(http.get(f"/v2/{name}/manifests/{wrong}"), 404, "MANIFEST_UNKNOWN")
    # The right digest of that algorithm is accepted.
    right = digest_of(image.manifest, algorithm)
    put = push_manifest(http, name, right, image.manifest)
    assert put.status_code == 201
    assert put.headers["Docker-Content-Digest"] == right
    assert http.get(f"/v2/{name}/manifests/{right}").content == image.manifest


def test_unknown_manifest(http: httpx.Client) -> None:
    push_image(http, "manifests-unknown", "v1", seed="manifests-unknown")
    for reference in ("nope", digest_of(b"nope")):
        error = assert_oci_error(
            http.get(f"/v2/manifests-unknown/manifests/{reference}"), 404, "MANIFEST_UNKNOWN"
        )
        assert error["detail"] == {"reference": reference}
        assert http.head(f"/v2/manifests-unknown/manifests/{reference}").status_code == 404
        assert_oci_error(
            http.delete(f"/v2/manifests-unknown/manifests/{reference}"), 404, "MANIFEST_UNKNOWN"
        )
    assert_oci_error(http.delete("/v2/manifests-unknown-repo/manifests/v1"), 404, "NAME_UNKNOWN")


def test_non_distributable_layers_need_not_be_pushed(http: httpx.Client) -> None:
    config = b'{"os":"windows"}'
    push_blob(http, "manifests-foreign", config)
    foreign = {
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": digest_of(b"windows base layer"),
        "size": 18,
        "urls": ["https://example.invalid/layer"],
    }
    document = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor(DOCKER_CONFIG, config),
        "layers": [foreign],
    }
    content = json.dumps(document).encode()
    assert (
        push_manifest(http, "manifests-foreign", "v1", content, DOCKER_MANIFEST).status_code == 201
    )
