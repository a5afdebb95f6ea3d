"""Parsing ``storage_url``: where blobs live (the filesystem, S3, or OpenStack Swift).

- empty: files under the data directory;
- ``s3://BUCKET[/PREFIX]?endpoint=URL&region=R``: credentials the AWS way (environment,
  profile), never in the URL;
- ``swift://CONTAINER[/PREFIX]``: credentials the OpenStack way (``OS_*`` for Keystone v3,
  or ``ST_AUTH``/``ST_USER``/``ST_KEY`` for v1 auth).

Both take ``timeout=SECONDS`` (default :data:`DEFAULT_TIMEOUT`): the longest one request to
the store may take (a streamed GET: the longest wait for its next bytes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from regd.storage.errors import StorageConfigError

#: S3's rules, plus the upper case and underscores of legacy (path-style) bucket names, which
#: S3-compatible stores such as Swift's s3api accept (``docker_registry``).
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")
_CONTAINER = re.compile(r"^[^/?#]{1,256}$")
#: Seconds one object-store request may take (``timeout=``), connecting included.
DEFAULT_TIMEOUT = 60.0
#: Seconds to connect (at most ``timeout``).
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class StorageLocation:
    kind: Literal["s3", "swift"]
    #: The bucket (S3) or container (Swift).
    container: str
    #: Key prefix inside it, without a trailing slash ("" for none).
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    #: Seconds one request may take (see the module docstring).
    timeout: float = DEFAULT_TIMEOUT

    def __str__(self) -> str:
        where = f"{self.kind}://{self.container}" + (f"/{self.prefix}" if self.prefix else "")
        return where + (f" at {self.endpoint}" if self.endpoint else "")


def parse_storage_url(url: str) -> StorageLocation | None:
    """None for the filesystem (empty URL); StorageConfigError for anything unusable."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise StorageConfigError(
            "storage_url must not hold credentials: use the AWS_* or OS_*/ST_* environment"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    timeout = _timeout(query.pop("timeout", None))
    prefix = parts.path.strip("/")
    container = parts.netloc
    if parts.scheme == "s3":
        unknown = set(query) - {"endpoint", "region"}
        if unknown:
            raise StorageConfigError(
                f"storage_url: unknown s3 option(s) {', '.join(sorted(unknown))}"
            )
        if not _BUCKET.match(container):
            raise StorageConfigError(f"storage_url: invalid S3 bucket name {container!r}")
        endpoint = query.get("endpoint")
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            raise StorageConfigError(f"storage_url: endpoint {endpoint!r} is not an http(s) URL")
        return StorageLocation("s3", container, prefix, endpoint, query.get("region"), timeout)
    if parts.scheme == "swift":
        if query:
            raise StorageConfigError(
                "storage_url: swift:// takes no options but timeout (credentials: OS_*/ST_*)"
            )
        if not _CONTAINER.match(container):
            raise StorageConfigError(f"storage_url: invalid Swift container name {container!r}")
        return StorageLocation("swift", container, prefix, timeout=timeout)
    raise StorageConfigError(
        f"storage_url: unsupported scheme {parts.scheme!r} (expected s3:// or swift://, or empty)"
    )


def _timeout(value: str | None) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise StorageConfigError(f"storage_url: timeout {value!r} is not 0 < seconds <= 3600")
    return seconds
