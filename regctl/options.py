"""The options every command accepts, before or after the verb (as supctl does).

The root callback and each command feed what they were given into ``GLOBAL``; a value given
after the verb wins over one given before it. This module imports nothing heavy: it is
loaded for ``regctl --help``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from regctl.runtime import (
    DEFAULT_SERVER,
    GLOBAL,
    Format,
    Globals,
    SecretFormat,
    debug,
    env,
    say,
    take,
)

__all__ = [
    "DEFAULT_SERVER",
    "ENVIRONMENT",
    "FORMATS",
    "GLOBAL",
    "OUTPUT_RULE",
    "SECRET_FORMATS",
    "DebugOption",
    "Format",
    "FormatOption",
    "Globals",
    "QuietOption",
    "SecretFormat",
    "ServerOption",
    "debug",
    "env",
    "say",
    "take",
]

#: What each format prints; ``man regctl`` and docs/cli.md show this table.
FORMATS: dict[Format, str] = {
    Format.table: "a table (rich); a vertical key/value table for a single object",
    Format.json: "the server's JSON, indented",
    Format.yaml: "the same data as YAML",
    Format.name: "names only, one per line (a remote registry's address, else the name field, "
    "else id, accessor or digest)",
}

#: The credential forms of api-clients create, reset-secret and credentials (-o).
SECRET_FORMATS: dict[str, str] = {
    "docker-config": 'docker\'s config.json: {"auths": {HOST: {"auth": base64("ID:SECRET")}}}',
    "k8s-secret": "a kubernetes.io/dockerconfigjson Secret, as kubectl create secret "
    "docker-registry --dry-run=client -o yaml prints it",
    "env": "REGCTL_SERVER, REGCTL_USERNAME and REGCTL_PASSWORD lines, for eval or an env file",
}

#: The output rule, stated once (``--help``, ``man regctl`` and docs/cli.md quote it).
OUTPUT_RULE = (
    "Path verbs (create, show, list, replace, merge, delete, do) print YAML by default, "
    "like supctl. Noun commands (repositories, tags, users, tokens, vaults, ..., config "
    "get-contexts) print a table when stdout is a terminal and JSON when it is not. "
    "-o/--format overrides both."
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
    "DOCKER_CONFIG": "the directory of docker's config.json (registry login; default ~/.docker)",
    "PYTHON_KEYRING_BACKEND": "the keyring backend login uses, e.g. "
    "keyring.backends.fail.Keyring to keep credentials in the file",
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
