"""Contexts: ``regctl config ...``, and what login.py shares of them: loading the config,
finding a context, revoking and forgetting its login. The login commands are login.py's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from regctl.commands import Nouns, noun_format
from regctl.errors import NotFound
from regctl.options import Globals, common_options, say
from regctl.output import Column, emit

if TYPE_CHECKING:
    from regctl.config import Config, Context
    from regctl.target import Target

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


def register(nouns: Nouns) -> None:
    """Add the config group (after login.register's registry group, for --help's order)."""
    nouns.add(config_app, "config", PANEL)


# -- what login.py shares --------------------------------------------------------------------


def load_config() -> Config:
    from regctl.config import Config

    return Config.load()


def find_context(config: Config, name: str | None) -> Context:
    """Context ``name``, or the current one when ``name`` is None; NotFound otherwise."""
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


def revoke_token(target: Target) -> None:
    """Revoke the login token in ``target``'s credentials; a failure is only said."""
    from regctl.client import Api, problem_message
    from regctl.errors import RegctlError

    assert target.credentials is not None
    token_id = target.credentials.token_id
    try:
        with Api(target) as api:
            response = api.send("DELETE", f"/api/v1/tokens/{token_id}")
    except RegctlError as error:
        say(
            f"warning: could not revoke token {token_id} on {target.server}: {error.message}; "
            "it stays valid until it expires"
        )
        return
    if response.is_success:
        say(f"revoked token {token_id} on {target.server}")
    elif response.status_code not in (401, 404):  # else expired or revoked already
        say(
            f"warning: could not revoke token {token_id} on {target.server}: "
            f"{problem_message(response)}"
        )


def forget_credentials(config: Config, context: Context) -> bool:
    """Revoke the context's login token (if it has one) and remove its stored credentials;
    whether there were any."""
    from regctl.target import Target

    store = config.store(context)
    credentials = store.get(context.name)
    if credentials is not None and credentials.token_id:
        revoke_token(Target(context.server, credentials, context.name, "stored"))
    return store.delete(context.name)


# -- regctl config ... -----------------------------------------------------------------------


@config_app.command("get-contexts")
@common_options(server=False)
def get_contexts(options: Globals) -> None:
    """List the contexts; the current one is marked with '*'."""
    config = load_config()
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
@common_options(server=False, format=False)
def current_context(options: Globals) -> None:
    """Print the name of the current context."""
    print(find_context(load_config(), None).name)


@config_app.command("use-context")
@common_options(server=False, format=False)
def use_context(options: Globals, name: ContextName) -> None:
    """Make NAME the current context."""
    config = load_config()
    context = find_context(config, name)
    config.current = context.name
    config.save()
    say(f"switched to context {context.name!r} ({context.server})")


@config_app.command("delete-context")
@common_options(server=False, format=False)
def delete_context(options: Globals, name: ContextName) -> None:
    """Remove context NAME and its stored credentials (revoking its login token)."""
    config = load_config()
    context = find_context(config, name)
    forget_credentials(config, context)
    del config.contexts[context.name]
    if config.current == context.name:
        config.current = None
    config.save()
    say(f"deleted context {context.name!r}")
