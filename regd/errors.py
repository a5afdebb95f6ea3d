"""Every refusal of the management domain, defined once.

Domain code (identities, grants, tokens, Strongbox, remote registries, webhooks) raises a
:class:`RequestError` — or its subclass of the domain — with an :class:`ErrorKind` and a
one-line message; it never names an HTTP status. The HTTP layer alone maps a kind to its
status and renders problem+json (:mod:`regd.http.errors`). The ``/v2/`` API's error codes
are elsewhere: :mod:`regd.registry.errors`.
"""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    """Why a management request cannot be done, with a short title."""

    INVALID = "the request is malformed or names something invalid"
    UNAUTHORIZED = "authentication required"
    FORBIDDEN = "the caller may not do this"
    NOT_FOUND = "no such thing"
    CONFLICT = "it conflicts with what exists"
    TOO_LARGE = "the request body is too large"
    UNAVAILABLE = "a service regd needs is unavailable"

    @property
    def title(self) -> str:
        return self.value


class RequestError(Exception):
    """A request that cannot be done: its :class:`ErrorKind` and a one-line ``message``."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class StartupError(Exception):
    """Why regd cannot start, in one line that names the setting and the fix.

    ``regd`` prints it as ``regd: MESSAGE`` and exits 1; ``--debug`` adds the traceback.
    """
