"""The grammars of repository names, tags, digests and references."""

from __future__ import annotations

import hashlib

import pytest

from regd.registry.errors import ErrorCode, RegistryError
from regd.registry.names import (
    Digest,
    is_digest,
    is_tag,
    parse_reference,
    validate_name,
    validate_tag,
)

HEX64 = "0123456789abcdef" * 4
HEX128 = HEX64 * 2


def _code(error: pytest.ExceptionInfo[RegistryError]) -> ErrorCode:
    return error.value.code


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "0",
        "library/ubuntu",
        "acc-x/myapp/myapp",
        "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",
        "a.b",
        "a_b",
        "a__b",
        "a-b",
        "a---b",
        "a.b_c__d-e--f",
        "x" * 255,
        "/".join(["ab"] * 85),  # 254 characters
    ],
)
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "A",
        "abC",
        "a//b",
        "a/",
        "/a",
        "-a",
        "a-",
        "a/-b",
        ".a",
        "a.",
        "a..b",
        "a___b",
        "a_.b",
        "a.-b",
        "a b",
        "a:b",
        "a@b",
        "ü",
        "a\n",
        "x" * 256,
        "/".join(["abc"] * 64) + "/",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(RegistryError) as error:
        validate_name(name)
    assert _code(error) is ErrorCode.NAME_INVALID
    assert error.value.detail == {"name": name}
    assert error.value.code.status == 400


@pytest.mark.parametrize(
    "tag", ["latest", "v1.0.0", "_", "_x", "A", "1", "a-b_c.d", "x" * 128, "UPPER.lower-9_"]
)
def test_valid_tags(tag: str) -> None:
    assert is_tag(tag)
    assert validate_tag(tag) == tag
    assert parse_reference(tag) == tag


@pytest.mark.parametrize(
    "tag", ["", "-a", ".a", "x" * 129, "a/b", "a:b", "a@b", "a b", "a+b", "ü", "a\n"]
)
def test_invalid_tags(tag: str) -> None:
    assert not is_tag(tag)
    with pytest.raises(RegistryError) as error:
        validate_tag(tag)
    assert _code(error) is ErrorCode.TAG_INVALID
    assert error.value.detail == {"tag": tag}


@pytest.mark.parametrize(
    ("text", "algorithm", "hexdigest"),
    [(f"sha256:{HEX64}", "sha256", HEX64), (f"sha512:{HEX128}", "sha512", HEX128)],
)
def test_parse_digest(text: str, algorithm: str, hexdigest: str) -> None:
    digest = Digest.parse(text)
    assert digest == Digest(algorithm, hexdigest)
    assert digest.algorithm == algorithm
    assert digest.hex == hexdigest
    assert str(digest) == text
    assert parse_reference(text) == digest
    assert is_digest(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha256",
        "sha256:",
        ":" + HEX64,
        f"sha256:{HEX64[:-1]}",
        f"sha256:{HEX64}0",
        f"sha256:{HEX64.upper()}",
        f"sha256:{HEX64[:-1]}g",
        f"sha512:{HEX64}",
        f"sha256:{HEX128}",
        f"SHA256:{HEX64}",
        f"md5:{HEX64[:32]}",
        f"sha384:{HEX64}{HEX64[:32]}",
        f"blake3:{HEX64}",
        f"sha256 :{HEX64}",
        f"sha256:{HEX64} ",
        f"sha256::{HEX64}",
    ],
)
def test_invalid_digests(text: str) -> None:
    with pytest.raises(RegistryError) as error:
        Digest.parse(text)
    assert _code(error) is ErrorCode.DIGEST_INVALID
    assert error.value.detail == {"digest": text}


def test_invalid_digest_as_reference() -> None:
    with pytest.raises(RegistryError) as error:
        parse_reference("sha256:abc")
    assert _code(error) is ErrorCode.DIGEST_INVALID


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_digest_of(algorithm: str) -> None:
    data = b"some content"
    digest = Digest.of(data, algorithm)
    assert digest == Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
    assert Digest.parse(str(digest)) == digest


def test_digest_of_defaults_to_sha256() -> None:
    assert Digest.of(b"").hex == hashlib.sha256(b"").hexdigest()
    assert Digest.of(b"").algorithm == "sha256"


def test_digests_are_values() -> None:
    assert Digest.parse(f"sha256:{HEX64}") == Digest.parse(f"sha256:{HEX64}")
    assert len({Digest.parse(f"sha256:{HEX64}"), Digest("sha256", HEX64)}) == 1
    assert Digest("sha256", HEX64) != Digest("sha512", HEX64)
