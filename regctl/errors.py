"""regctl's failures and the exit code each one maps to.

``EXIT_CODES`` is the contract: ``man regctl`` and docs/cli.md are generated or checked
against it.
"""

from __future__ import annotations

OK = 0
SERVER_ERROR = 1
USAGE = 2
NOT_FOUND = 3
UNAUTHORIZED = 4
UNREACHABLE = 5
INTERRUPTED = 130

#: exit code -> what it means, in the order ``man regctl`` lists them.
EXIT_CODES: dict[int, str] = {
    OK: "success",
    SERVER_ERROR: "the server answered with an error (any status but 401, 403 and 404), "
    "or regctl failed otherwise",
    USAGE: "usage error: unknown command or option, missing argument, unreadable or "
    "unparsable input (YAML/JSON), bad server URL",
    NOT_FOUND: "not found: the server answered 404, or a context named on the command line "
    "does not exist",
    UNAUTHORIZED: "unauthorized or forbidden: the server answered 401 or 403, or a login "
    "was refused",
    UNREACHABLE: "cannot reach the daemon: connection refused, name resolution, TLS or timeout",
    INTERRUPTED: "interrupted (Ctrl-C, or stdin ended at a prompt), as shells count SIGINT",
}


class RegctlError(Exception):
    """A failure reported as one ``regctl: error: ...`` line (plus an optional hint)."""

    exit_code = SERVER_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ServerError(RegctlError):
    exit_code = SERVER_ERROR


class UsageError(RegctlError):
    exit_code = USAGE


class NotFound(RegctlError):
    exit_code = NOT_FOUND


class Unauthorized(RegctlError):
    exit_code = UNAUTHORIZED


class Unreachable(RegctlError):
    exit_code = UNREACHABLE
