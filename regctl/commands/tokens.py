"""Tokens: ``token`` (a short-lived one, printed for scripts and docker login) and
``tokens`` (personal access tokens: create, list, revoke).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from regctl.commands import (
    IDENTITY_PANEL,
    Nouns,
    comma_list,
    connect,
    noun_delete,
    noun_format,
    noun_group,
    noun_list,
)
from regctl.options import (
    DebugOption,
    Format,
    Globals,
    PoliciesOption,
    QuietOption,
    ServerOption,
    common_options,
    say,
    take,
)
from regctl.output import Column, emit
from regctl.paths import segment

TOKEN_COLUMNS = (
    Column("ID", "id"),
    Column("NAME", "name"),
    Column("KIND", "kind"),
    Column("POLICIES", "policies"),
    Column("EXPIRES", "expires-at"),
    Column("REVOKED", "revoked-at"),
)
#: ``tokens list --all``: whose token it is, too.
ALL_TOKEN_COLUMNS = (*TOKEN_COLUMNS[:3], Column("PRINCIPAL", "principal"), *TOKEN_COLUMNS[3:])


class TokenFormat(StrEnum):
    """``token show --format``: brightbox's formats, plus docker's config.json."""

    text = "text"
    token = "token"  # noqa: S105 -- a format name
    json = "json"
    docker_config = "docker-config"
    curl = "curl"


token_app = typer.Typer(
    help="A short-lived token for scripts and docker login (bare 'regctl token' is 'token show').",
    invoke_without_command=True,
    rich_markup_mode=None,
)
tokens_app = noun_group("Personal access tokens: create, list, revoke.")


def register(nouns: Nouns) -> None:
    nouns.add(token_app, "token", IDENTITY_PANEL)
    nouns.add(tokens_app, "tokens", IDENTITY_PANEL)


# -- token -----------------------------------------------------------------------------------
# Written out, not @common_options: its own -o/--format comes first, before --ttl and --server.

TokenFormatOption = Annotated[
    TokenFormat | None,
    typer.Option(
        "-o",
        "--format",
        help="text (key: value lines), token (the bare value), json, docker-config or curl.",
        show_default=False,
    ),
]
TokenTtlOption = Annotated[
    str | None,
    typer.Option(
        metavar="TTL", help="The token's life (default: the server's, 1h).", show_default=False
    ),
]


@token_app.callback()
def token_default(
    context: typer.Context,
    format: TokenFormatOption = None,
    ttl: TokenTtlOption = None,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Mint a short-lived token; bare 'regctl token' is 'token show'."""
    if context.invoked_subcommand is None:
        _show_token(take(server, None, quiet, debug), format, ttl)


@token_app.command("show")
def token_show(
    format: TokenFormatOption = None,
    ttl: TokenTtlOption = None,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Mint a short-lived token for the caller (POST /api/v1/token) and print it.

    --format text prints access_token, token_type and expires_at lines; token the bare
    value (regctl token show --format=token | docker login -u USER --password-stdin HOST);
    json an object; docker-config {"auths": {HOST: {"auth": base64("USER:TOKEN")}}}; curl
    a ready curl command line.
    """
    _show_token(take(server, None, quiet, debug), format, ttl)


def _show_token(options: Globals, fmt: TokenFormat | None, ttl: str | None) -> None:
    import json

    from regctl.client import principal_name
    from regctl.config import registry_host

    if fmt is None:
        fmt = TokenFormat.json if options.format is Format.json else TokenFormat.text
    with connect(options) as api:
        server = api.target.server
        minted = api.create_token("regctl token show", ttl, personal=False)
    token, expires = str(minted["token"]), minted.get("expires-at")
    if fmt is TokenFormat.token:
        sys.stdout.write(token + "\n")
    elif fmt is TokenFormat.text:
        sys.stdout.write(f"access_token: {token}\ntoken_type: Bearer\nexpires_at: {expires}\n")
    elif fmt is TokenFormat.json:
        data = {"access_token": token, "token_type": "Bearer", "expires_at": expires}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif fmt is TokenFormat.docker_config:
        from regctl.credential_formats import docker_config, dumps_config

        user = principal_name(str(minted.get("principal", "")))
        sys.stdout.write(dumps_config(docker_config(registry_host(server), user, token)))
    else:
        import shlex

        header = shlex.quote(f"Authorization: Bearer {token}")
        sys.stdout.write(f"curl -H {header} {server}/api/v1/repositories\n")


# -- tokens ----------------------------------------------------------------------------------


@tokens_app.command("create")
@common_options()
def tokens_create(
    options: Globals,
    ttl: Annotated[
        str, typer.Option(metavar="TTL", help="The token's life (required): 4h, 30m, 1y2d5h.")
    ],
    name: Annotated[
        str, typer.Option(metavar="NAME", help="What the token is for.", show_default=False)
    ] = "",
    policies: PoliciesOption = None,
    for_client: Annotated[
        str | None,
        typer.Option(
            "--for",
            metavar="CLIENT",
            help="Mint the token for this API client (cli-xxxxx), as OpenShift hands out a "
            "service account's token: its owner or a registry admin; logged on the server.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create a personal access token; its value (token) is shown this once.

    Without --policies the token may do all its owner may; with them, no more than those
    policies allow. Use it as a bearer token (REGCTL_TOKEN) or as the password of any user
    name with docker login. --for cli-xxxxx makes it that API client's token, without
    knowing the client's secret: regctl tokens create --for cli-ab12c --ttl 1h -o json |
    jq -r .token | docker login -u serviceaccount --password-stdin HOST.
    """
    with connect(options) as api:
        created = api.create_token(name, ttl, comma_list(policies) or None, for_client=for_client)
    say("the token is shown once: keep it now")
    emit(created, noun_format(options))


@tokens_app.command("list")
@common_options()
def tokens_list(
    options: Globals,
    all: Annotated[
        bool, typer.Option("--all", help="Every principal's tokens (registry admins).")
    ] = False,
) -> None:
    """List your tokens (personal, session and refresh), without their values."""
    columns = ALL_TOKEN_COLUMNS if all else TOKEN_COLUMNS
    noun_list(options, "/tokens?all=true" if all else "/tokens", columns, empty="no tokens")


@tokens_app.command("revoke")
@common_options(format=False)
def tokens_revoke(
    options: Globals,
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (accessor).")],
) -> None:
    """Revoke a token: it stops working at once."""
    noun_delete(options, f"/tokens/{segment(token_id)}", f"revoked token {token_id}")
