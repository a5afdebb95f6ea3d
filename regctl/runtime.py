"""What every part of regctl shares without loading typer: the options of this
invocation, the output formats, messages on stderr and the environment.

``regctl.options`` re-exports these beside the typer option types; modules that also run
outside the command line (``regctl.config`` for docker-credential-regctl) import them
from here.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_SERVER = "http://127.0.0.1:5000"


class Format(StrEnum):
    """Output formats (``-o``)."""

    table = "table"
    json = "json"
    yaml = "yaml"
    name = "name"


class SecretFormat(StrEnum):
    """``-o`` of the commands that hand out a secret: the formats, and credential forms."""

    table = "table"
    json = "json"
    yaml = "yaml"
    name = "name"
    docker_config = "docker-config"
    k8s_secret = "k8s-secret"  # noqa: S105 -- a format name
    env = "env"


@dataclass
class Globals:
    server: str | None = None
    format: Format | None = None
    quiet: bool = False
    debug: bool = False
    #: A CA certificate (PEM) to trust for HTTPS besides the system's (``--ca-cert``).
    ca_cert: str | None = None

    def update(
        self, server: str | None, format: Format | None, quiet: bool, debug: bool
    ) -> Globals:
        if server is not None:
            self.server = server
        if format is not None:
            self.format = format
        self.quiet = self.quiet or quiet
        self.debug = self.debug or debug
        return self

    def reset(self) -> Globals:
        """Back to no options given: the start of an invocation."""
        self.server = self.format = self.ca_cert = None
        self.quiet = self.debug = False
        return self


#: The options of the running invocation: reset by each ``main()`` (regctl's and
#: docker-credential-regctl's), filled by the root callback and each command. One object,
#: so the modules that read it (say, debug, the HTTP client's CA) see the same one.
GLOBAL = Globals()


def take(server: str | None, format: Format | None, quiet: bool, debug: bool) -> Globals:
    """Record the options a command was given (after the verb) and return them all."""
    return GLOBAL.update(server, format, quiet, debug)


def say(message: str) -> None:
    """A message for the human, on stderr; ``--quiet`` silences it."""
    if not GLOBAL.quiet:
        print(f"regctl: {message}", file=sys.stderr)


def debug(message: str) -> None:
    if GLOBAL.debug:
        print(f"regctl: debug: {message}", file=sys.stderr)


def env(name: str) -> str | None:
    """An environment variable; empty counts as unset."""
    return os.environ.get(name) or None
