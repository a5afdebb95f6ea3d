"""Parsing manifests: media types, what they reference, and what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from regd.registry import mediatypes
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.manifest_format import MAX_MANIFEST_SIZE, Descriptor, parse_manifest
from regd.registry.names import Digest

CONFIG = Digest.of(b"config")
LAYER = Digest.of(b"layer")
OTHER_LAYER = Digest.of(b"other layer")
CHILD = Digest.of(b"child")
SUBJECT = Digest.of(b"subject")
EMPTY = Digest.of(b"{}")


def _descriptor(media_type: str, digest: Digest, size: int = 10, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(digest), "size": size, **extra}


def _image(media_type: Any = mediatypes.OCI_MANIFEST, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"schemaVersion": 2}
    if media_type is not None:
        document["mediaType"] = media_type
    document["config"] = _descriptor("application/vnd.oci.image.config.v1+json", CONFIG)
    document["layers"] = [
        _descriptor("application/vnd.oci.image.layer.v1.tar+gzip", LAYER),
        _descriptor("application/vnd.oci.image.layer.v1.tar+gzip", OTHER_LAYER, 20),
    ]
    document.update(extra)
    return document


def _index(media_type: str | None = mediatypes.OCI_INDEX, **extra: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"schemaVersion": 2}
    if media_type is not None:
        document["mediaType"] = media_type
    document["manifests"] = [
        _descriptor(mediatypes.OCI_MANIFEST, CHILD, platform={"os": "linux"}),
    ]
    document.update(extra)
    return document


def _parse(document: Any, content_type: str | None = None) -> Any:
    return parse_manifest(json.dumps(document).encode(), content_type)


def _invalid(content: bytes, content_type: str | None = None) -> RegistryError:
    with pytest.raises(RegistryError) as error:
        parse_manifest(content, content_type)
    return error.value


# -- accepted --------------------------------------------------------------------------------


def test_oci_image_manifest() -> None:
    parsed = _parse(_image(), mediatypes.OCI_MANIFEST)
    assert parsed.media_type == mediatypes.OCI_MANIFEST
    assert [blob.digest for blob in parsed.blobs] == [CONFIG, LAYER, OTHER_LAYER]
    assert parsed.blobs[2] == Descriptor(
        "application/vnd.oci.image.layer.v1.tar+gzip", OTHER_LAYER, 20
    )
    assert parsed.children == []
    assert parsed.subject is None
    # With no artifactType, the config's media type stands in for it (referrers API).
    assert parsed.artifact_type == "application/vnd.oci.image.config.v1+json"
    assert parsed.annotations is None


def test_docker_schema2_manifest() -> None:
    document = _image(mediatypes.DOCKER_MANIFEST)
    parsed = _parse(document, mediatypes.DOCKER_MANIFEST)
    assert parsed.media_type == mediatypes.DOCKER_MANIFEST
    assert [blob.digest for blob in parsed.blobs] == [CONFIG, LAYER, OTHER_LAYER]


@pytest.mark.parametrize("media_type", [mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST])
def test_indexes(media_type: str) -> None:
    parsed = _parse(_index(media_type), media_type)
    assert parsed.media_type == media_type
    assert parsed.blobs == []
    assert parsed.children == [Descriptor(mediatypes.OCI_MANIFEST, CHILD, 10)]
    assert parsed.artifact_type is None


def test_an_empty_index_and_a_manifest_without_layers() -> None:
    assert _parse(_index(manifests=[])).children == []
    parsed = _parse(_image(layers=[]))
    assert [blob.digest for blob in parsed.blobs] == [CONFIG]
    no_layers_key = _image()
    del no_layers_key["layers"]
    assert [blob.digest for blob in _parse(no_layers_key).blobs] == [CONFIG]


def test_artifact_with_subject_and_annotations() -> None:
    document = _image(
        artifactType="application/vnd.example.sbom",
        config=_descriptor(mediatypes.OCTET_STREAM, EMPTY, 2),
        subject=_descriptor(mediatypes.OCI_MANIFEST, SUBJECT, 123),
        annotations={"org.example": "value"},
    )
    document["config"]["mediaType"] = "application/vnd.oci.empty.v1+json"
    parsed = _parse(document, mediatypes.OCI_MANIFEST)
    assert parsed.artifact_type == "application/vnd.example.sbom"
    assert parsed.subject == Descriptor(mediatypes.OCI_MANIFEST, SUBJECT, 123)
    assert parsed.annotations == {"org.example": "value"}
    assert parsed.blobs[0].media_type == "application/vnd.oci.empty.v1+json"


def test_index_with_artifact_type_and_subject() -> None:
    document = _index(
        artifactType="application/vnd.example.bundle",
        subject=_descriptor(mediatypes.OCI_INDEX, SUBJECT),
    )
    parsed = _parse(document)
    assert parsed.artifact_type == "application/vnd.example.bundle"
    assert parsed.subject is not None
    assert parsed.subject.digest == SUBJECT


def test_descriptor_artifact_type_is_kept() -> None:
    document = _index()
    document["manifests"][0]["artifactType"] = "application/vnd.example"
    assert _parse(document).children[0].artifact_type == "application/vnd.example"


def test_non_distributable_layers_are_not_required() -> None:
    document = _image(mediatypes.DOCKER_MANIFEST)
    foreign = sorted(mediatypes.NON_DISTRIBUTABLE_LAYERS)
    document["layers"] = [
        _descriptor(media_type, Digest.of(media_type.encode())) for media_type in foreign
    ]
    parsed = _parse(document)
    assert [blob.digest for blob in parsed.blobs] == [CONFIG]


@pytest.mark.parametrize(
    ("document", "content_type", "expected"),
    [
        # mediaType in the document, whatever the Content-Type says (when it is generic).
        (_image(), None, mediatypes.OCI_MANIFEST),
        (_image(), "application/json", mediatypes.OCI_MANIFEST),
        (_image(), mediatypes.OCTET_STREAM, mediatypes.OCI_MANIFEST),
        (_index(), "application/json", mediatypes.OCI_INDEX),
        # No mediaType: the Content-Type names it...
        (_image(None), mediatypes.OCI_MANIFEST, mediatypes.OCI_MANIFEST),
        (_image(None), mediatypes.DOCKER_MANIFEST, mediatypes.DOCKER_MANIFEST),
        (_index(None), mediatypes.DOCKER_MANIFEST_LIST, mediatypes.DOCKER_MANIFEST_LIST),
        # ...or, when it is generic or absent, the shape does.
        (_image(None), None, mediatypes.OCI_MANIFEST),
        (_image(None), "application/json", mediatypes.OCI_MANIFEST),
        (_index(None), None, mediatypes.OCI_INDEX),
        (_index(None), mediatypes.OCTET_STREAM, mediatypes.OCI_INDEX),
    ],
)
def test_media_type(document: dict[str, Any], content_type: str | None, expected: str) -> None:
    assert _parse(document, content_type).media_type == expected


# -- refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b"2",
        b'"manifest"',
    ],
)
def test_not_a_json_object(content: bytes) -> None:
    assert _invalid(content).code is ErrorCode.MANIFEST_INVALID


def test_too_large() -> None:
    padding = "x" * MAX_MANIFEST_SIZE
    error = _invalid(json.dumps(_image(annotations={"p": padding})).encode())
    assert error.code is ErrorCode.MANIFEST_TOO_LARGE
    assert error.code.status == 413


def test_exactly_the_limit_is_accepted() -> None:
    document = _image(annotations={"p": ""})
    base = len(json.dumps(document).encode())
    document["annotations"]["p"] = "x" * (MAX_MANIFEST_SIZE - base)
    content = json.dumps(document).encode()
    assert len(content) == MAX_MANIFEST_SIZE
    assert parse_manifest(content, None).media_type == mediatypes.OCI_MANIFEST


@pytest.mark.parametrize(
    ("document", "content_type"),
    [
        (_image(schemaVersion=1), None),
        (_image(schemaVersion="2"), None),
        ({k: v for k, v in _image().items() if k != "schemaVersion"}, None),
        (_image(mediatypes.DOCKER_SCHEMA1, schemaVersion=1), None),
        (_image(mediatypes.DOCKER_SCHEMA1_SIGNED), None),
        (_image(None), mediatypes.DOCKER_SCHEMA1_SIGNED),
        (_image("text/plain"), None),
        (_image(None), "text/plain"),
        (_image(7), None),
        ({"schemaVersion": 2}, None),
        ({"schemaVersion": 2}, "application/json"),
        # Content-Type and mediaType disagree.
        (_image(), mediatypes.OCI_INDEX),
        (_image(), mediatypes.DOCKER_MANIFEST),
        (_index(), mediatypes.OCI_MANIFEST),
        # Missing or malformed parts.
        (_image(config=None), None),
        ({k: v for k, v in _image().items() if k != "config"}, mediatypes.OCI_MANIFEST),
        (_image(config="sha256:x"), None),
        (_image(layers={}), None),
        (_image(layers=["not a descriptor"]), None),
        (_index(manifests=None), None),
        ({k: v for k, v in _index().items() if k != "manifests"}, mediatypes.OCI_INDEX),
        (_index(manifests=[42]), None),
        (_image(artifactType=5), None),
        (_image(annotations=["a"]), None),
        # Annotations are a map of strings to strings.
        (_image(annotations={"a": 1}), None),
        (_image(annotations={"a": None}), None),
        (_index(annotations={"a": ["x"]}), None),
        (_image(subject="sha256:abc"), None),
    ],
)
def test_invalid_manifests(document: dict[str, Any], content_type: str | None) -> None:
    error = _invalid(json.dumps(document).encode(), content_type)
    assert error.code is ErrorCode.MANIFEST_INVALID
    assert error.message


@pytest.mark.parametrize(
    "change",
    [
        {"mediaType": None},
        {"mediaType": ""},
        {"mediaType": 3},
        {"digest": None},
        {"digest": 5},
        {"digest": "sha256:abc"},
        {"digest": "md5:" + "0" * 32},
        {"size": None},
        {"size": -1},
        {"size": "10"},
        {"size": 1.5},
        {"size": True},
    ],
)
def test_invalid_descriptors(change: dict[str, Any]) -> None:
    for document, key in ((_image(), "config"), (_index(), "manifests")):
        target = document[key] if key == "config" else document[key][0]
        for field, value in change.items():
            if value is None:
                del target[field]
            else:
                target[field] = value
        error = _invalid(json.dumps(document).encode())
        assert error.code is ErrorCode.MANIFEST_INVALID
    layer_document = _image()
    for field, value in change.items():
        if value is None:
            del layer_document["layers"][1][field]
        else:
            layer_document["layers"][1][field] = value
    error = _invalid(json.dumps(layer_document).encode())
    assert error.code is ErrorCode.MANIFEST_INVALID
    assert "layers[1]" in error.message
