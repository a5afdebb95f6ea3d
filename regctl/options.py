"""The options every command accepts, before or after the verb (as supctl does).

The root callback and each command feed what they were given into ``GLOBAL``; a value given
after the verb wins over one given before it. This module imports nothing heavy: it is
loaded for ``regctl --help``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import typer

DEFAULT_SERVER = "http://127.0.0.1:5000"


class Format(StrEnum):
    """Output formats (``-o``)."""

    table = "table"
    json = "json"
    yaml = "yaml"
    name = "name"


#: What each format prints; ``man regctl`` and docs/cli.md show this table.
FORMATS: dict[Format, str] = {
    Format.table: "a table (rich); a vertical key/value table for a single object",
    Format.json: "the server's JSON, indented",
    Format.yaml: "the same data as YAML",
    Format.name: "names only, one per line (the name field, else id, address, accessor or digest)",
}

#: The output rule, stated once (``--help``, ``man regctl`` and docs/cli.md quote it).
OUTPUT_RULE = (
    "Path verbs (create, show, list, replace, merge, delete, do) print YAML by default, "
    "like supctl. Noun commands (repositories, tags, config get-contexts) print a table "
    "when stdout is a terminal and JSON when it is not. -o/--format overrides both."
)

#: The environment regctl reads (``man regctl`` lists it).
ENVIRONMENT: dict[str, str] = {
    "REGCTL_SERVER": "the server, when --server is not given (over the current context)",
    "REGCTL_TOKEN": "a bearer token; wins over every stored credential",
    "REGCTL_USERNAME": "with REGCTL_PASSWORD: Basic credentials, over stored ones; "
    "also the default of login --username",
    "REGCTL_PASSWORD": "see REGCTL_USERNAME; also the password of login",
    "REGCTL_CONFIG": "the config file (default: config.yaml in the user config directory, "
    "e.g. ~/.config/regctl/config.yaml)",
    "NO_COLOR": "tables without colour",
}

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        metavar="URL",
        help=f"regd's URL (env REGCTL_SERVER, else the current context, else {DEFAULT_SERVER}).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    Format | None,
    typer.Option(
        "-o", "--format", help="Output format: table, json, yaml or name.", show_default=False
    ),
]
QuietOption = Annotated[
    bool, typer.Option("-q", "--quiet", help="No messages or hints on stderr (errors stay).")
]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Log HTTP requests and show tracebacks on stderr.")
]


@dataclass
class Globals:
    server: str | None = None
    format: Format | None = None
    quiet: bool = False
    debug: bool = False

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


#: The options of this invocation.
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
