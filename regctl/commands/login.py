"""Logins: ``regctl login``, ``logout``, ``whoami`` and ``registry login``.

The contexts they store logins in, and ``regctl config ...``, are contexts.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from regctl.commands import Nouns, password_from_stdin
from regctl.commands.contexts import (
    PANEL,
    find_context,
    forget_credentials,
    load_config,
    revoke_token,
)
from regctl.errors import ServerError, Unauthorized, UsageError
from regctl.options import Globals, common_options, env, say

if TYPE_CHECKING:
    from regctl.config import Config, Context
    from regctl.credential_stores import Credentials
    from regctl.target import Target

registry_app = typer.Typer(
    help="Hand the login to docker: registry login.", no_args_is_help=True, rich_markup_mode=None
)

#: The life of the token regctl login creates.
LOGIN_TTL = "30d"
TtlOption = Annotated[
    str, typer.Option(metavar="TTL", help="The life of the token created: 4h, 30m, 1y2d5h.")
]


def register(app: typer.Typer, nouns: Nouns) -> None:
    """Add login, logout and whoami to ``app``, then the registry group."""
    for command in (login, logout, whoami):
        app.command(rich_help_panel=PANEL)(command)
    nouns.add(registry_app, "registry", PANEL)


# -- login -----------------------------------------------------------------------------------


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
    from regctl.config import normalize_server
    from regctl.credential_stores import Credentials
    from regctl.target import Target

    server = normalize_server(url)
    user = _username(username, password_stdin)
    password = _password(password_stdin)
    basic = Target(server, Credentials(username=user, password=password), None)
    token = _login_token(basic, ttl)
    name, location = _store_login(server, user, token)
    say(f"logged in to {server} as {user}; context {name!r} is current")
    say(
        f"credentials stored in {location}: token {token.get('name')!r}, "
        f"expires {token.get('expires-at')}"
    )


def _ask(prompt: str, secret: bool) -> str:
    if secret:
        import getpass

        return getpass.getpass(prompt)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().rstrip("\n")


def _username(username: str | None, password_stdin: bool) -> str:
    """Who logs in: --username, else REGCTL_USERNAME, else asked on a terminal."""
    user = username or env("REGCTL_USERNAME")
    if not user:
        if not sys.stdin.isatty() or password_stdin:
            raise UsageError("no username: give --username NAME or set REGCTL_USERNAME")
        user = _ask("Username: ", secret=False)
    return user


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


def _store_login(server: str, user: str, token: dict[str, Any]) -> tuple[str, str]:
    """Store the token as the login of ``server``'s context and make that context current;
    the token it replaces is revoked. The context's name and where the token went."""
    from regctl.config import Context, context_name
    from regctl.credential_stores import Credentials, store_credentials
    from regctl.target import Target

    config = load_config()
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
        revoke_token(Target(server, replaced, name, "stored"))
    return name, location


def _stored(config: Config, context: Context | None) -> Credentials | None:
    if context is None:
        return None
    try:
        return config.store(context).get(context.name)
    except UsageError:
        return None


# -- logout and whoami -----------------------------------------------------------------------


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
    config = load_config()
    context = find_context(config, name)
    removed = forget_credentials(config, context)
    context.username = None
    config.save()
    if removed:
        say(f"logged out of {context.name}: its credentials are removed")
    else:
        say(f"not logged in to {context.name}")


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


def _logged_in(server: str | None) -> Target:
    """The target of ``server``, which must come with credentials."""
    from regctl.target import resolve

    target = resolve(server)
    if target.credentials is None:
        raise Unauthorized(
            f"not logged in to {target.server}",
            hint=f"log in first: regctl login {target.server} --username NAME",
        )
    return target


# -- registry login --------------------------------------------------------------------------


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
    from regctl.config import registry_host

    target = _logged_in(options.server)
    user, secret = _docker_credentials(target, ttl)
    host = host or registry_host(target.server)
    _check_on_v2(target.server, user, secret)
    _give_docker(host, user, secret, to)


def _docker_credentials(target: Target, ttl: str) -> tuple[str, str]:
    """The user and token docker gets: the login's token, or one minted for docker (living
    ``ttl``) when the login is a password; the user is asked of the server when unknown."""
    import socket

    from regctl.client import Api
    from regctl.credential_stores import IDENTITY_TOKEN_USER

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
    return user, secret


def _check_on_v2(server: str, user: str, secret: str) -> None:
    """``GET /v2/`` as docker will: the token must be let in."""
    from regctl.client import Api, problem_message
    from regctl.credential_stores import Credentials
    from regctl.target import Target

    with Api(Target(server, Credentials(username=user, password=secret), None)) as api:
        response = api.send("GET", "/v2/")
    if not response.is_success:
        raise Unauthorized(f"{server}/v2/ refused the token: {problem_message(response)}")


def _give_docker(host: str, user: str, secret: str, to: str | None) -> None:
    """Merge the docker config entry into ``to`` (default docker's config.json), or print
    it when ``to`` is ``-``."""
    from regctl.credential_formats import (
        docker_config,
        docker_config_path,
        dumps_config,
        merge_docker_config,
    )

    if to == "-":
        sys.stdout.write(dumps_config(docker_config(host, user, secret)))
        return
    path = Path(to).expanduser() if to else docker_config_path()
    for warning in merge_docker_config(path, host, user, secret):
        say(f"warning: {warning}")
    say(f"saved credentials for {host} as {user} in {path}")
