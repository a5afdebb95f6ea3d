"""regctl's commands: the supctl path grammar (paths.py) and brightbox-style nouns, a
module a noun or two (the file is named after the noun), and what they share (here).

Command modules are imported for ``--help``; what they need to do their work (the HTTP
client, the config file, output) is imported when a command runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from regctl.options import Format, Globals, say
from regctl.output import emit

if TYPE_CHECKING:
    from collections.abc import Sequence

    import typer

    from regctl.client import Api
    from regctl.output import Column

#: The help panels that nouns of more than one module share.
IDENTITY_PANEL = "Identity and access"
STRONGBOX_PANEL = "Strongbox and remote registries"


def connect(options: Globals) -> Api:
    """A client for the server and credentials these options resolve to."""
    from regctl.client import Api
    from regctl.target import resolve

    return Api(resolve(options.server))


def call(options: Globals, method: str, path: str, body: Any = None) -> Any:
    """One management-API request (path under /api/v1) on a connection of its own."""
    with connect(options) as api:
        return api.call(method, path, body)


def noun_group(help: str) -> typer.Typer:
    """A brightbox-style noun: a command group that shows its help when called bare."""
    import typer

    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


def noun_format(options: Globals) -> Format:
    """The noun rule: ``-o`` if given, else a table on a terminal and JSON otherwise."""
    if options.format is not None:
        return options.format
    return Format.table if sys.stdout.isatty() else Format.json


def noun_show(options: Globals, path: str) -> None:
    """``NOUN show``: GET one object and print it by the noun rule."""
    emit(call(options, "GET", path), noun_format(options))


def noun_list(
    options: Globals, path: str, columns: Sequence[Column], empty: str = "nothing found"
) -> None:
    """``NOUN list``: GET a collection and print it by the noun rule; ``empty`` on stderr."""
    emit(call(options, "GET", path), noun_format(options), columns, empty=empty)


def noun_create(options: Globals, path: str, body: Any) -> None:
    """``NOUN create`` (or ``add``): POST the body and print what the server made of it."""
    emit(call(options, "POST", path, body), noun_format(options))


def noun_delete(options: Globals, path: str, done: str) -> None:
    """``NOUN delete`` (or ``remove``, ``revoke``): DELETE the object, then say ``done``."""
    call(options, "DELETE", path)
    say(done)


def password_from_stdin() -> str:
    """``--password-stdin``: all of stdin but the line end; empty is a usage error."""
    from regctl.errors import UsageError

    password = sys.stdin.read().rstrip("\r\n")
    if not password:
        raise UsageError("--password-stdin: stdin is empty")
    return password


def principal_ref(text: str) -> str:
    """``alice`` -> ``user:alice``; ``cli-ab12c`` -> ``api-client:cli-ab12c``.

    ``user:NAME``, ``api-client:ID`` and ``public`` stay as they are.
    """
    import re

    if text == "public" or text.startswith(("user:", "api-client:")):
        return text
    if re.fullmatch(r"cli-[a-z0-9]{5}", text):
        return f"api-client:{text}"
    return f"user:{text}"


def comma_list(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated values as one list: ``["a,b", "c"]`` -> ``[a, b, c]``."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


class Nouns:
    """The noun groups of one command tree: name -> (group, help panel, hidden), in
    --help order. regctl.app builds a group's click command (typer evaluates every
    annotation of every command in it) only when the command line names it, which keeps
    regctl --help and each command's start fast. Each command module's ``register`` adds
    its nouns to the one regctl.app builds."""

    def __init__(self) -> None:
        self._groups: dict[str, tuple[typer.Typer, str, bool]] = {}

    def add(self, group: typer.Typer, name: str, panel: str, hidden: bool = False) -> None:
        self._groups[name] = (group, panel, hidden)

    def get(self, name: str) -> tuple[typer.Typer, str, bool] | None:
        return self._groups.get(name)

    def names(self) -> list[str]:
        return list(self._groups)

    def hidden(self, name: str) -> bool:
        found = self._groups.get(name)
        return found is not None and found[2]
