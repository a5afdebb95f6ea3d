"""Parsing and validating manifests (OCI image manifest and index, Docker schema 2)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from regd.registry import mediatypes
from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.names import Digest

#: The largest manifest accepted (the spec's suggested minimum limit).
MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024
#: A descriptor's size is an int64 (the spec); the database stores it as one.
MAX_SIZE: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None


@dataclass(slots=True)
class ParsedManifest:
    """What the registry needs to know of a manifest to store and link it."""

    media_type: str
    blobs: list[Descriptor] = field(default_factory=list)
    children: list[Descriptor] = field(default_factory=list)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


def _invalid(message: str) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_INVALID, message)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing duplicate keys: two parsers must not read two manifests."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key[:100]!r}")
            seen.add(key)
    return document


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} is not a descriptor object")
    media_type = value.get("mediaType")
    digest = value.get("digest")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}.mediaType is missing")
    if not isinstance(digest, str):
        raise _invalid(f"{where}.digest is missing")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
        raise _invalid(f"{where}.size is missing, negative or beyond int64")
    try:
        parsed_digest = Digest.parse(digest)
    except RegistryError:
        raise _invalid(f"{where}.digest {digest!r} is not a valid digest") from None
    artifact_type = value.get("artifactType")
    return Descriptor(
        media_type, parsed_digest, size, artifact_type if isinstance(artifact_type, str) else None
    )


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType is not a string")
    if content_type in mediatypes.MANIFESTS and declared and content_type != declared:
        raise _invalid(f"Content-Type {content_type!r} does not match mediaType {declared!r}")
    media_type = declared or content_type
    if not media_type or media_type in (mediatypes.OCTET_STREAM, "application/json"):
        # An OCI manifest may omit mediaType: infer it from its shape.
        if "manifests" in document:
            return mediatypes.OCI_INDEX
        if "config" in document:
            return mediatypes.OCI_MANIFEST
        raise _invalid("cannot tell the manifest's media type")
    return media_type


def parse_manifest(content: bytes, content_type: str | None) -> ParsedManifest:
    """Validate ``content`` and return what it references; MANIFEST_INVALID otherwise."""
    if len(content) > MAX_MANIFEST_SIZE:
        raise RegistryError(
            ErrorCode.MANIFEST_TOO_LARGE, f"manifest exceeds {MAX_MANIFEST_SIZE} bytes"
        )
    try:
        document = json.loads(content, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _invalid(f"manifest is not valid JSON: {error}") from None
    except RecursionError:
        raise _invalid("manifest is not valid JSON: nested too deeply") from None
    except ValueError as error:  # a number of thousands of digits; a duplicate key
        raise _invalid(f"manifest is not valid JSON: {str(error)[:200]}") from None
    if not isinstance(document, dict):
        raise _invalid("manifest is not a JSON object")
    media_type = _media_type(document, content_type)
    if media_type in (mediatypes.DOCKER_SCHEMA1, mediatypes.DOCKER_SCHEMA1_SIGNED):
        raise _invalid("Docker schema 1 manifests are not supported")
    if media_type not in mediatypes.MANIFESTS:
        raise _invalid(f"unsupported manifest media type {media_type!r}")
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")

    parsed = ParsedManifest(media_type=media_type)
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType is not a string")
    annotations = document.get("annotations")
    if annotations is not None and (
        not isinstance(annotations, dict)
        or not all(isinstance(value, str) for value in annotations.values())
    ):
        raise _invalid("annotations is not an object of strings")
    parsed.annotations = annotations
    if "subject" in document:
        parsed.subject = _descriptor(document["subject"], "subject")

    if media_type in mediatypes.IMAGE_MANIFESTS:
        config = _descriptor(document.get("config"), "config")
        layers = document.get("layers", [])
        if not isinstance(layers, list):
            raise _invalid("layers is not a list")
        parsed.blobs.append(config)
        for index, layer in enumerate(layers):
            descriptor = _descriptor(layer, f"layers[{index}]")
            if descriptor.media_type not in mediatypes.NON_DISTRIBUTABLE_LAYERS:
                parsed.blobs.append(descriptor)
        parsed.artifact_type = artifact_type or config.media_type
    else:
        children = document.get("manifests")
        if not isinstance(children, list):
            raise _invalid("manifests is not a list")
        parsed.children = [
            _descriptor(child, f"manifests[{index}]") for index, child in enumerate(children)
        ]
        parsed.artifact_type = artifact_type
    return parsed
