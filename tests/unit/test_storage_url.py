"""Parsing ``storage_url``: what each form means, and what is refused."""

from __future__ import annotations

import pytest

from regd.settings import load
from regd.storage.errors import StorageConfigError
from regd.storage.url import StorageLocation, parse_storage_url


def test_empty_means_the_filesystem() -> None:
    assert parse_storage_url("") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://registry", StorageLocation("s3", "registry")),
        (
            "s3://registry/prod/v2?endpoint=https://s3.example:9000&region=eu-1",
            StorageLocation("s3", "registry", "prod/v2", "https://s3.example:9000", "eu-1"),
        ),
        (
            "s3://docker_registry?endpoint=https://orbit.brightbox.com&region=gb1",
            StorageLocation("s3", "docker_registry", "", "https://orbit.brightbox.com", "gb1"),
        ),
        ("swift://docker_registry", StorageLocation("swift", "docker_registry")),
        ("swift://c/some/prefix/", StorageLocation("swift", "c", "some/prefix")),
    ],
)
def test_forms(url: str, expected: StorageLocation) -> None:
    assert parse_storage_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIA:secret@bucket",
        "swift://user:key@container",
        "s3://b",
        "s3://bucket?endpoint=ftp://x",
        "s3://bucket?acl=public",
        "swift://c?region=x",
        "gs://bucket",
        "/var/lib/regd",
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(StorageConfigError):
        parse_storage_url(url)


def test_settings_refuse_a_bad_url_without_echoing_secrets() -> None:
    with pytest.raises(ValueError, match="must not hold credentials") as raised:
        load(environ={"REGD_STORAGE_URL": "s3://AKIA:s3cr3t@bucket"})
    assert "s3cr3t" not in str(raised.value)


def test_settings_take_storage_url_from_flag_over_env() -> None:
    settings = load({"storage_url": "swift://flag"}, environ={"REGD_STORAGE_URL": "swift://env"})
    assert settings.storage_url == "swift://flag"
    assert load(environ={"REGD_STORAGE_REDIRECT": "1"}).storage_redirect is True
