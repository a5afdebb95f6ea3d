"""The options every command accepts, before or after the verb (as supctl does), and
``common_options``, which gives them to a command; also options several modules share.

The root callback and each command feed what they were given into ``GLOBAL``; a value given
after the verb wins over one given before it. This module imports nothing heavy: it is
loaded for ``regctl --help``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    import inspect

__all__ = [
    "DEFAULT_SERVER",
    "ENVIRONMENT",
    "FORMATS",
    "GLOBAL",
    "OUTPUT_RULE",
    "SECRET_FORMATS",
    "DebugOption",
    "FileOption",
    "Format",
    "FormatOption",
    "Globals",
    "PoliciesOption",
    "QuietOption",
    "SecretFormat",
    "ServerOption",
    "common_options",
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
    "REGCTL_CA_CERT": "a CA certificate (PEM) to trust for HTTPS besides the system's (--ca-cert)",
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
FileOption = Annotated[
    str | None,
    typer.Option(
        "-f",
        "--file",
        metavar="FILE",
        help="Read the body (YAML or JSON) from FILE; '-' or no -f reads stdin.",
        show_default=False,
    ),
]
PoliciesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--policies",
        metavar="NAMES",
        help="Limit to these policies (comma-separated or repeated), e.g. registry-pull.",
        show_default=False,
    ),
]

Command = Callable[..., None]


def common_options(*, server: bool = True, format: bool = True) -> Callable[[Command], Command]:
    """Give a command the options every command takes, after its own: --server,
    -o/--format, -q/--quiet, --debug (``server=False`` or ``format=False`` leaves one out).

    The command declares ``options: Globals`` instead, first, and is given what ``take``
    makes of them. A command with a ``format`` of its own (e.g. ``SecretFormatOption``)
    keeps it, in -o's place, and is given it as it is (``options.format`` is then the one
    given before the verb). Stack it under ``@group.command(...)``.
    """

    def decorate(function: Command) -> Command:
        return _WithOptions(function, server, format)

    return decorate


class _WithOptions:
    """A command as typer sees it: its own parameters, then the common options.

    The signature is built when typer first reads it, that is when the command's group is
    built (``regctl --help`` evaluates no annotation), and ``__call__`` turns the common
    options back into ``options``.
    """

    def __init__(self, function: Command, server: bool, format: bool) -> None:
        self.function, self.server, self.format = function, server, format
        self.__name__, self.__qualname__ = function.__name__, function.__qualname__
        self.__module__, self.__doc__ = function.__module__, function.__doc__

    @functools.cached_property
    def own(self) -> dict[str, inspect.Parameter]:
        """The command's own parameters, annotations evaluated, ``options`` left out."""
        import inspect

        signature = inspect.signature(self.function, eval_str=True)
        return {name: p for name, p in signature.parameters.items() if name != "options"}

    @functools.cached_property
    def __signature__(self) -> inspect.Signature:
        from inspect import Parameter, Signature

        def option(name: str, annotation: Any, default: Any) -> Parameter:
            return Parameter(name, Parameter.KEYWORD_ONLY, default=default, annotation=annotation)

        own = dict(self.own)
        own_format = own.pop("format", None)
        common = [option("server", ServerOption, None)] if self.server else []
        if own_format is not None:
            common.append(own_format.replace(kind=Parameter.KEYWORD_ONLY))
        elif self.format:
            common.append(option("format", FormatOption, None))
        common += [option("quiet", QuietOption, False), option("debug", DebugOption, False)]
        return Signature([*own.values(), *common], return_annotation=None)

    @property  # typing.get_type_hints (typer calls it) reads them
    def __annotations__(self) -> dict[str, Any]:  # type: ignore[override]
        return {p.name: p.annotation for p in self.__signature__.parameters.values()}

    def __call__(self, **given: Any) -> None:
        chosen = None if "format" in self.own else given.pop("format", None)
        options = take(given.pop("server", None), chosen, given.pop("quiet"), given.pop("debug"))
        self.function(options, **given)
