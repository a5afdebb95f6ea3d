"""Refusals of the management domain, for the HTTP layer to answer as problem+json.

Identities, Strongbox and remote registries each raise their own subclass; ``/api/v1``
turns any of them into its ``status`` and ``message``. The ``/v2/`` API's error codes are
elsewhere: :mod:`regd.registry.errors`.
"""

from __future__ import annotations


class RequestError(Exception):
    """A request that cannot be done: an HTTP 4xx ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StartupError(Exception):
    """Why regd cannot start, in one line that names the setting and the fix.

    ``regd`` prints it as ``regd: MESSAGE`` and exits 1; ``--debug`` adds the traceback.
    """
