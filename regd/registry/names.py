"""The grammars of repository names, tags and digests (OCI Distribution Spec v1.1)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from regd.registry.errors import ErrorCode, RegistryError

_COMPONENT: Final = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE: Final = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE: Final = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
_DIGEST_RE: Final = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")
MAX_NAME_LENGTH: Final = 255

#: Supported digest algorithms and the length of their hex encoding.
ALGORITHMS: Final[dict[str, int]] = {"sha256": 64, "sha512": 128}


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid repository name, else raise NAME_INVALID."""
    if len(name) > MAX_NAME_LENGTH or not _NAME_RE.fullmatch(name):
        raise RegistryError(ErrorCode.NAME_INVALID, detail={"name": name})
    return name


def is_tag(reference: str) -> bool:
    return _TAG_RE.fullmatch(reference) is not None


def validate_tag(tag: str) -> str:
    if not is_tag(tag):
        raise RegistryError(ErrorCode.TAG_INVALID, "invalid tag", detail={"tag": tag})
    return tag


@dataclass(frozen=True, slots=True)
class Digest:
    """A content digest ``algorithm:hex``."""

    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse a digest; DIGEST_INVALID for bad syntax, UNSUPPORTED-ish algorithms too."""
        match = _DIGEST_RE.fullmatch(text)
        if match is None:
            raise RegistryError(ErrorCode.DIGEST_INVALID, "invalid digest", {"digest": text})
        algorithm, encoded = match.groups()
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise RegistryError(
                ErrorCode.DIGEST_INVALID,
                f"unsupported digest algorithm {algorithm!r}",
                {"digest": text},
            )
        if len(encoded) != length or not all(c in "0123456789abcdef" for c in encoded):
            raise RegistryError(ErrorCode.DIGEST_INVALID, "invalid digest", {"digest": text})
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


def is_digest(reference: str) -> bool:
    return ":" in reference


def parse_reference(reference: str) -> str | Digest:
    """A manifest reference: a tag (returned as str) or a digest."""
    if is_digest(reference):
        return Digest.parse(reference)
    return validate_tag(reference)
