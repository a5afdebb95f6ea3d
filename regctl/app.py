"""The Typer root of regctl. Commands import their heavy dependencies lazily.

``main`` runs the command tree itself (click's standalone mode off) so that every failure,
usage errors included, is one ``regctl: error: ...`` line on stderr with the documented
exit code, and tracebacks appear only with ``--debug``.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from regctl import __version__, coercion, helptext
from regctl.commands import (
    Nouns,
    access,
    api_clients,
    audit,
    contexts,
    login,
    nouns,
    paths,
    remote_registries,
    strongbox,
    tokens,
    users,
    webhooks,
)
from regctl.errors import INTERRUPTED, SERVER_ERROR, USAGE, RegctlError
from regctl.options import (
    GLOBAL,
    OUTPUT_RULE,
    DebugOption,
    FormatOption,
    QuietOption,
    ServerOption,
)


class Root(TyperGroup):
    """regctl's root: its noun groups (``nouns``) become click commands only when named.

    ``--help`` lists them from their help texts without building them.
    """

    nouns: Nouns = Nouns()

    def list_commands(self, ctx: Any) -> list[str]:
        own = super().list_commands(ctx)
        return [*own, *(name for name in self.nouns.names() if name not in own)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        noun = self.nouns.get(cmd_name)
        if found is None and noun is not None:
            from typer.main import get_group

            group, panel, hidden = noun
            found = get_group(group)
            found.name, found.hidden, found.rich_help_panel = cmd_name, hidden, panel
            self.commands[cmd_name] = found
        return found

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows: list[tuple[str, Any]] = []
        for name in self.list_commands(ctx):
            command = super().get_command(ctx, name)
            noun = self.nouns.get(name)
            if command is None and noun is not None:
                group, _panel, hidden = noun
                command = typer.core.TyperCommand(name, help=group.info.help, hidden=hidden)
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in rows])

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        from difflib import get_close_matches

        from typer._click.exceptions import UsageError

        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as error:
            visible = [n for n in self.list_commands(ctx) if not self.nouns.hidden(n)]
            matches = get_close_matches(args[0], visible) if args else []
            if matches:
                suggestions = ", ".join(repr(match) for match in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


def build_nouns() -> Nouns:
    """Every noun group of regctl, in --help order (login adds ``registry`` itself)."""
    found = Nouns()
    found.add(nouns.repositories, "repositories", nouns.PANEL)
    found.add(nouns.repositories, "repos", nouns.PANEL, hidden=True)
    found.add(nouns.tags, "tags", nouns.PANEL)
    tokens.register(found)
    users.register(found)
    api_clients.register(found)
    access.register(nouns.repositories, found)
    strongbox.register(found)
    remote_registries.register(found)
    return found


def _root_over(noun_groups: Nouns) -> type[Root]:
    """The root group class over these nouns (typer instantiates it itself)."""
    return type("Root", (Root,), {"nouns": noun_groups})


coercion.install()
helptext.install()

NOUNS = build_nouns()
app = typer.Typer(
    cls=_root_over(NOUNS),
    name="regctl",
    help="Drive a regd registry: repositories, tags, tokens, users, secrets, remote "
    f"registries.\n\n{OUTPUT_RULE}\n\nExit codes: 0 ok, 1 server error, 2 usage error, "
    "3 not found, 4 unauthorized or forbidden, 5 cannot reach regd (man regctl).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"regctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
    ca_cert: str | None = typer.Option(
        None,
        "--ca-cert",
        metavar="FILE",
        help="Trust this CA certificate (PEM) for an HTTPS regd, besides the system's "
        "(env REGCTL_CA_CERT).",
        show_default=False,
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """regctl: the command line for regd."""
    GLOBAL.update(server, format, quiet, debug)
    GLOBAL.ca_cert = ca_cert


#: alias -> command; an alias is hidden from --help and man, and completes like its command.
ALIASES = {"repos": "repositories"}

paths.register(app)
login.register(app, NOUNS)
contexts.register(NOUNS)
audit.register(NOUNS)
webhooks.register(NOUNS)


@app.command(rich_help_panel="Other")
def version() -> None:
    """Print regctl's version."""
    typer.echo(f"regctl {__version__}")


def _fail(message: str, hint: str | None, code: int) -> int:
    sys.stderr.write(f"regctl: error: {message}\n")
    if hint and not GLOBAL.quiet:
        sys.stderr.write(f"regctl: hint: {hint}\n")
    return code


def _traceback() -> None:
    if GLOBAL.debug:
        import traceback

        traceback.print_exc()


def main(argv: list[str] | None = None) -> int:
    from typer._click import exceptions as click_errors
    from typer.main import get_command

    command = get_command(app)
    GLOBAL.reset()  # an invocation starts with no options, even after another in-process
    try:
        result = command.main(args=argv, prog_name="regctl", standalone_mode=False)
    except RegctlError as error:
        _traceback()
        return _fail(error.message, error.hint, error.exit_code)
    except click_errors.NoArgsIsHelpError as error:
        sys.stderr.write(error.format_message() + "\n")
        return USAGE
    except click_errors.UsageError as error:
        where = error.ctx.command_path if error.ctx is not None else "regctl"
        message = " ".join(error.format_message().split())
        return _fail(message, f"try '{where} --help'", error.exit_code)
    except typer.TyperException as error:
        return _fail(error.format_message(), None, getattr(error, "exit_code", SERVER_ERROR))
    except (typer.Abort, KeyboardInterrupt, EOFError):
        sys.stderr.write("regctl: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``regctl ... | head``): that is not our failure.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:
        _traceback()
        return _fail(
            f"internal error: {type(error).__name__}: {error}",
            None if GLOBAL.debug else "run again with --debug for a traceback",
            SERVER_ERROR,
        )
    return result if isinstance(result, int) else 0
