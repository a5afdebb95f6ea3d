"""Contexts and logins: ``regctl login``, ``logout``, ``whoami``, ``registry login`` and
``regctl config ...``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from regctl.commands import add_group, noun_format, password_from_stdin
from regctl.errors import NotFound, ServerError, Unauthorized, UsageError
from regctl.options import Globals, common_options, env, say
from regctl.output import Column, emit

if TYPE_CHECKING:
    from regctl.config import Config, Context, Credentials, Target

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

registry_app = typer.Typer(
    help="Hand the login to docker: registry login.", no_args_is_help=True, rich_markup_mode=None
)

#: The life of the token regctl login creates.
LOGIN_TTL = "30d"
TtlOption = Annotated[
    str, typer.Option(metavar="TTL", help="The life of the token created: 4h, 30m, 1y2d5h.")
]

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
        return password_from_stdin()
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
    @common_options(server=False, format=False)
    def login(
        options: Globals,
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
        ttl: TtlOption = LOGIN_TTL,
    ) -> None:
        """Log in: trade a password for a token, store it, make URL's context current.

        The password is asked without echo on a terminal, or read with --password-stdin.
        It is sent once, to create a personal access token (POST /api/v1/tokens, named
        regctl@HOSTNAME, living --ttl), and never stored. The token goes to the system
        keyring or, where no keyring works (headless CI), to credentials.yaml beside the
        config (mode 0600); regctl says which. The context is named after URL's
        host[:port].
        """
        from regctl.config import (
            Context,
            Credentials,
            Target,
            context_name,
            normalize_server,
            store_credentials,
        )

        server = normalize_server(url)
        user = username or env("REGCTL_USERNAME")
        if not user:
            if not sys.stdin.isatty() or password_stdin:
                raise UsageError("no username: give --username NAME or set REGCTL_USERNAME")
            user = _ask("Username: ", secret=False)
        password = _password(password_stdin)
        basic = Target(server, Credentials(username=user, password=password), None)
        token = _login_token(basic, ttl)

        config = _load()
        name = context_name(server)
        previous = config.contexts.get(name)
        replaced = _stored(config, previous)
        context = Context(name, server, user, previous.credential_store if previous else "file")
        credentials = Credentials(username=user, token=token["token"], token_id=token["id"])
        location = store_credentials(config, context, credentials)
        config.contexts[name] = context
        config.current = name
        config.save()
        if replaced is not None and replaced.token_id and replaced.token != credentials.token:
            _revoke(Target(server, replaced, name, "stored"))
        say(f"logged in to {server} as {user}; context {name!r} is current")
        say(
            f"credentials stored in {location}: token {token.get('name')!r}, "
            f"expires {token.get('expires-at')}"
        )

    @app.command(rich_help_panel=PANEL)
    @common_options(server=False, format=False)
    def logout(
        options: Globals,
        name: Annotated[
            str | None,
            typer.Argument(
                metavar="NAME", help="The context (default: the current one).", show_default=False
            ),
        ] = None,
    ) -> None:
        """Log out: revoke the login's token on the server and forget it here.

        The context itself stays. When the server cannot be reached, the token is still
        forgotten here, and regctl says that it stays valid until it expires.
        """
        config = _load()
        context = _context(config, name)
        removed = _forget(config, context)
        context.username = None
        config.save()
        if removed:
            say(f"logged out of {context.name}: its credentials are removed")
        else:
            say(f"not logged in to {context.name}")

    @app.command(rich_help_panel=PANEL)
    @common_options(format=False)
    def whoami(
        options: Globals,
        show_token: Annotated[
            bool,
            typer.Option(
                "-t",
                "--show-token",
                help="Print the bearer token instead (a short-lived one is minted when the "
                "credentials are a password).",
            ),
        ] = False,
    ) -> None:
        """Print who you are (a user name or API client id), like oc whoami.

        With -t, print the bearer token and a newline, nothing else: the stored login's
        token (or REGCTL_TOKEN) as it is, without asking the server.
        """
        from regctl.client import Api

        target = _logged_in(options.server)
        assert target.credentials is not None
        if show_token and target.credentials.token:
            print(target.credentials.token)
            return
        with Api(target) as api:
            if show_token:
                print(api.create_token("regctl whoami -t", None, personal=False)["token"])
            else:
                print(api.whoami())

    add_group(registry_app, "registry", PANEL)
    add_group(config_app, "config", PANEL)


def _logged_in(server: str | None) -> Target:
    """The target of ``server``, which must come with credentials."""
    from regctl.config import resolve

    target = resolve(server)
    if target.credentials is None:
        raise Unauthorized(
            f"not logged in to {target.server}",
            hint=f"log in first: regctl login {target.server} --username NAME",
        )
    return target


def _login_token(target: Target, ttl: str) -> dict[str, Any]:
    """``POST /api/v1/tokens`` with Basic authentication: the password buys a token."""
    import socket

    from regctl.client import Api, problem_message

    body = {"name": f"regctl@{socket.gethostname()}", "ttl": ttl}
    with Api(target) as api:
        response = api.send("POST", "/api/v1/tokens", body)
    if response.status_code in (401, 403):
        raise Unauthorized(
            f"login to {target.server} refused: {problem_message(response)}",
            hint="check the username and password",
        )
    if response.status_code == 400:
        raise UsageError(f"login to {target.server}: {problem_message(response)}")
    if not response.is_success:
        raise ServerError(
            f"{target.server} does not answer like regd on /api/v1/tokens: "
            f"{problem_message(response)}"
        )
    created = response.json()
    if not isinstance(created, dict) or not isinstance(created.get("token"), str):
        raise ServerError(f"{target.server} answered no token")
    return created


def _revoke(target: Target) -> None:
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


def _forget(config: Config, context: Context) -> bool:
    """Revoke the context's login token (if it has one) and remove its stored credentials;
    whether there were any."""
    from regctl.config import Target

    store = config.store(context)
    credentials = store.get(context.name)
    if credentials is not None and credentials.token_id:
        _revoke(Target(context.server, credentials, context.name, "stored"))
    return store.delete(context.name)


def _stored(config: Config, context: Context | None) -> Credentials | None:
    if context is None:
        return None
    try:
        return config.store(context).get(context.name)
    except UsageError:
        return None


@registry_app.command("login")
@common_options(format=False)
def registry_login(
    options: Globals,
    host: Annotated[
        str | None,
        typer.Argument(
            metavar="HOST",
            help="The registry as docker names it (default: the server's host[:port]).",
            show_default=False,
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="FILE",
            help="Merge into FILE instead of $DOCKER_CONFIG/config.json "
            "(~/.docker/config.json); '-' prints the entry on stdout.",
            show_default=False,
        ),
    ] = None,
    ttl: TtlOption = LOGIN_TTL,
) -> None:
    """Give docker the login's token, like oc registry login.

    Checks the token on /v2/, then merges {"auths": {HOST: {"auth": base64("user:token")}}}
    into docker's config.json (mode 0600), or prints it with --to=-. The token is the
    stored login's (or REGCTL_TOKEN); with password credentials a personal access token
    (--ttl) is minted for docker.
    """
    import socket

    from regctl.client import Api, problem_message
    from regctl.config import IDENTITY_TOKEN_USER, Credentials, Target, registry_host
    from regctl.credentials import (
        docker_config,
        docker_config_path,
        dumps_config,
        merge_docker_config,
    )

    target = _logged_in(options.server)
    credentials = target.credentials
    assert credentials is not None
    with Api(target) as api:
        secret = credentials.token
        if secret is None:
            minted = api.create_token(f"docker@{socket.gethostname()}", ttl)
            secret = str(minted["token"])
            say(f"created token {minted['id']} for docker, expires {minted.get('expires-at')}")
        user = credentials.username
        if not user or user == IDENTITY_TOKEN_USER:
            user = api.whoami()
    host = host or registry_host(target.server)
    with Api(Target(target.server, Credentials(username=user, password=secret), None)) as api:
        response = api.send("GET", "/v2/")
    if not response.is_success:
        raise Unauthorized(f"{target.server}/v2/ refused the token: {problem_message(response)}")
    if to == "-":
        sys.stdout.write(dumps_config(docker_config(host, user, secret)))
        return
    path = Path(to).expanduser() if to else docker_config_path()
    for warning in merge_docker_config(path, host, user, secret):
        say(f"warning: {warning}")
    say(f"saved credentials for {host} as {user} in {path}")


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
@common_options(server=False)
def get_contexts(options: Globals) -> None:
    """List the contexts; the current one is marked with '*'."""
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
@common_options(server=False, format=False)
def current_context(options: Globals) -> None:
    """Print the name of the current context."""
    print(_context(_load(), None).name)


@config_app.command("use-context")
@common_options(server=False, format=False)
def use_context(options: Globals, name: ContextName) -> None:
    """Make NAME the current context."""
    config = _load()
    context = _context(config, name)
    config.current = context.name
    config.save()
    say(f"switched to context {context.name!r} ({context.server})")


@config_app.command("delete-context")
@common_options(server=False, format=False)
def delete_context(options: Globals, name: ContextName) -> None:
    """Remove context NAME and its stored credentials (revoking its login token)."""
    config = _load()
    context = _context(config, name)
    _forget(config, context)
    del config.contexts[context.name]
    if config.current == context.name:
        config.current = None
    config.save()
    say(f"deleted context {context.name!r}")
