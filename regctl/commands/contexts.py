"""Contexts and logins: ``regctl login``, ``logout`` and ``regctl config ...``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from regctl.commands import noun_format
from regctl.errors import NotFound, ServerError, Unauthorized, UsageError
from regctl.options import DebugOption, FormatOption, QuietOption, env, say, take
from regctl.output import Column, emit

if TYPE_CHECKING:
    from regctl.config import Config, Context, Target

PANEL = "Contexts and login"
CONTEXT_COLUMNS = (
    Column("CURRENT", "current", mark=True),
    Column("NAME", "name"),
    Column("SERVER", "server"),
    Column("USER", "username"),
    Column("CREDENTIALS", "credential-store"),
)

config_app = typer.Typer(
    help="Contexts: named servers, the current one and their logins.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ContextName = Annotated[
    str, typer.Argument(metavar="NAME", help="A context name (see get-contexts).")
]


def _ask(prompt: str, secret: bool) -> str:
    if secret:
        import getpass

        return getpass.getpass(prompt)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().rstrip("\n")


def _password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: stdin is empty")
        return password
    from_env = env("REGCTL_PASSWORD")
    if from_env:
        return from_env
    if sys.stdin.isatty():
        return _ask("Password: ", secret=True)
    raise UsageError(
        "no password: pipe it with --password-stdin, set REGCTL_PASSWORD, or run on a terminal"
    )


def register(app: typer.Typer) -> None:
    @app.command(rich_help_panel=PANEL)
    def login(
        url: Annotated[
            str, typer.Argument(metavar="URL", help="The server, e.g. https://reg.example.com.")
        ],
        username: Annotated[
            str | None,
            typer.Option(
                "-u",
                "--username",
                metavar="NAME",
                help="Who logs in (env REGCTL_USERNAME; asked on a terminal).",
                show_default=False,
            ),
        ] = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
        quiet: QuietOption = False,
        debug: DebugOption = False,
    ) -> None:
        """Check a username and password against URL, save them and make URL's context current.

        The password is asked without echo on a terminal, or read with --password-stdin.
        The context is named after URL's host[:port].
        """
        from regctl.config import (
            DEFAULT_STORE,
            Context,
            Credentials,
            Target,
            context_name,
            normalize_server,
        )

        take(None, None, quiet, debug)
        server = normalize_server(url)
        user = username or env("REGCTL_USERNAME")
        if not user:
            if not sys.stdin.isatty() or password_stdin:
                raise UsageError("no username: give --username NAME or set REGCTL_USERNAME")
            user = _ask("Username: ", secret=False)
        credentials = Credentials(username=user, password=_password(password_stdin))
        _check_login(Target(server, credentials, None))

        config = _load()
        name = context_name(server)
        previous = config.contexts.get(name)
        context = Context(
            name, server, user, previous.credential_store if previous else DEFAULT_STORE
        )
        store = config.store(context)
        store.put(name, credentials)
        config.contexts[name] = context
        config.current = name
        config.save()
        say(f"logged in to {server} as {user}; context {name!r} is current")
        say(f"credentials stored in {store.location}")

    @app.command(rich_help_panel=PANEL)
    def logout(
        name: Annotated[
            str | None,
            typer.Argument(
                metavar="NAME", help="The context (default: the current one).", show_default=False
            ),
        ] = None,
        quiet: QuietOption = False,
        debug: DebugOption = False,
    ) -> None:
        """Forget the stored credentials of a context (the context itself stays)."""
        take(None, None, quiet, debug)
        config = _load()
        context = _context(config, name)
        removed = config.store(context).delete(context.name)
        context.username = None
        config.save()
        if removed:
            say(f"logged out of {context.name}: its credentials are removed")
        else:
            say(f"not logged in to {context.name}")

    app.add_typer(config_app, name="config", rich_help_panel=PANEL)


def _check_login(target: Target) -> None:
    """``GET /v2/`` with Basic authentication: 2xx means the credentials are good."""
    from regctl.client import Api, problem_message

    with Api(target) as api:
        response = api.send("GET", "/v2/")
    if response.status_code in (401, 403):
        raise Unauthorized(
            f"login to {target.server} refused: {problem_message(response)}",
            hint="check the username and password",
        )
    if not response.is_success:
        raise ServerError(
            f"{target.server} does not answer like a registry on /v2/: {problem_message(response)}"
        )


def _load() -> Config:
    from regctl.config import Config

    return Config.load()


def _context(config: Config, name: str | None) -> Context:
    if name is None:
        if config.current_context is None:
            raise NotFound(
                "no current context",
                hint="log in with 'regctl login URL --username NAME' or pick one with "
                "'regctl config use-context NAME'",
            )
        return config.current_context
    if name not in config.contexts:
        known = ", ".join(config.contexts) or "none"
        raise NotFound(f"no context named {name!r} in {config.path} (known: {known})")
    return config.contexts[name]


@config_app.command("get-contexts")
def get_contexts(
    format: FormatOption = None, quiet: QuietOption = False, debug: DebugOption = False
) -> None:
    """List the contexts; the current one is marked with '*'."""
    options = take(None, format, quiet, debug)
    config = _load()
    rows: list[dict[str, Any]] = [
        {
            "current": name == config.current,
            "name": name,
            "server": context.server,
            "username": context.username,
            "credential-store": context.credential_store,
        }
        for name, context in config.contexts.items()
    ]
    emit(rows, noun_format(options), CONTEXT_COLUMNS, empty=f"no contexts in {config.path}")


@config_app.command("current-context")
def current_context(quiet: QuietOption = False, debug: DebugOption = False) -> None:
    """Print the name of the current context."""
    take(None, None, quiet, debug)
    print(_context(_load(), None).name)


@config_app.command("use-context")
def use_context(name: ContextName, quiet: QuietOption = False, debug: DebugOption = False) -> None:
    """Make NAME the current context."""
    take(None, None, quiet, debug)
    config = _load()
    context = _context(config, name)
    config.current = context.name
    config.save()
    say(f"switched to context {context.name!r} ({context.server})")


@config_app.command("delete-context")
def delete_context(
    name: ContextName, quiet: QuietOption = False, debug: DebugOption = False
) -> None:
    """Remove context NAME and its stored credentials."""
    take(None, None, quiet, debug)
    config = _load()
    context = _context(config, name)
    config.store(context).delete(context.name)
    del config.contexts[context.name]
    if config.current == context.name:
        config.current = None
    config.save()
    say(f"deleted context {context.name!r}")
