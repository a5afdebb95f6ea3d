"""Every registry error code, defined once.

The codes and their HTTP statuses are those of the OCI Distribution Spec v1.1
(plus the few that Docker's registry added and clients rely on).  Registry logic
raises :class:`RegistryError`; the HTTP layer renders it as the spec's JSON body.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.Enum):
    """An OCI error code: its wire name, HTTP status and default message."""

    BLOB_UNKNOWN = ("BLOB_UNKNOWN", 404, "blob unknown to registry")
    BLOB_UPLOAD_INVALID = ("BLOB_UPLOAD_INVALID", 400, "blob upload invalid")
    BLOB_UPLOAD_UNKNOWN = ("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
    DIGEST_INVALID = ("DIGEST_INVALID", 400, "provided digest did not match uploaded content")
    MANIFEST_BLOB_UNKNOWN = (
        "MANIFEST_BLOB_UNKNOWN",
        400,
        "manifest references a manifest or blob unknown to registry",
    )
    MANIFEST_INVALID = ("MANIFEST_INVALID", 400, "manifest invalid")
    MANIFEST_UNKNOWN = ("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
    NAME_INVALID = ("NAME_INVALID", 400, "invalid repository name")
    NAME_UNKNOWN = ("NAME_UNKNOWN", 404, "repository name not known to registry")
    SIZE_INVALID = ("SIZE_INVALID", 400, "provided length did not match content length")
    TAG_INVALID = ("TAG_INVALID", 400, "manifest tag did not match URI")
    UNAUTHORIZED = ("UNAUTHORIZED", 401, "authentication required")
    DENIED = ("DENIED", 403, "requested access to the resource is denied")
    UNSUPPORTED = ("UNSUPPORTED", 405, "the operation is unsupported")
    TOO_MANY_REQUESTS = ("TOOMANYREQUESTS", 429, "too many requests")
    # Not in the spec's table but used with the statuses the spec prescribes.
    RANGE_INVALID = ("BLOB_UPLOAD_INVALID", 416, "requested range not satisfiable")
    MANIFEST_TOO_LARGE = ("SIZE_INVALID", 413, "manifest too large")
    PAGINATION_INVALID = ("PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested")
    UNAVAILABLE = ("UNAVAILABLE", 503, "service unavailable")
    #: A bug in regd, not a reason to retry (Docker's registry answers 500 UNKNOWN too).
    INTERNAL = ("UNKNOWN", 500, "internal error")
    #: The data file system has no space left (ENOSPC, EDQUOT).
    DISK_FULL = ("UNKNOWN", 507, "disk full: the registry has no space left to store this")

    def __init__(self, wire: str, status: int, message: str) -> None:
        self.wire = wire
        self.status = status
        self.message = message


class RegistryError(Exception):
    """A failure the client should see as an OCI error."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message or code.message
        self.detail = detail
        self.headers = headers or {}
        super().__init__(f"{code.wire}: {self.message}")

    def body(self) -> dict[str, Any]:
        """The spec's error body: ``{"errors": [{"code", "message", "detail"}]}``."""
        error: dict[str, Any] = {"code": self.code.wire, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"errors": [error]}
