"""``api-clients`` (robots, cli-xxxxx): create, list, show, reset-secret, delete and
credentials, which prints a client's credentials as docker-config, k8s-secret or env.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from regctl.commands import (
    IDENTITY_PANEL,
    Nouns,
    comma_list,
    connect,
    noun_delete,
    noun_group,
    noun_list,
    noun_show,
)
from regctl.commands.access import Role
from regctl.commands.robot_credentials import (
    RegistryOption,
    SecretFormatOption,
    SecretNameOption,
    emit_credentials,
    secret_default,
)
from regctl.errors import UsageError
from regctl.options import Globals, SecretFormat, common_options, say
from regctl.output import Column
from regctl.paths import segment

CLIENT_COLUMNS = (
    Column("ID", "id"),
    Column("DESCRIPTION", "description"),
    Column("OWNER", "owner"),
    Column("NAMESPACE", "namespace"),
    Column("POLICIES", "policies"),
    Column("EXPIRES", "expires-at"),
)

clients_app = noun_group(
    "API clients (robots, cli-xxxxx): create, list, show, reset-secret, delete, credentials."
)


def register(nouns: Nouns) -> None:
    nouns.add(clients_app, "api-clients", IDENTITY_PANEL)


ClientId = Annotated[str, typer.Argument(metavar="ID", help="An API client id, cli-xxxxx.")]
DescriptionOption = Annotated[
    str, typer.Option(metavar="TEXT", help="What the client is for.", show_default=False)
]
GrantOption = Annotated[
    list[str] | None,
    typer.Option(
        "--grant",
        metavar="CAPS:GLOB",
        help="Capabilities over a repository glob, e.g. 'pull,push:team/*' (repeatable); "
        "only what you may grant yourself.",
        show_default=False,
    ),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "-n",
        "--namespace",
        metavar="NAMESPACE",
        help="With --role: a service account on this namespace (team covers team/*).",
        show_default=False,
    ),
]
RoleOption = Annotated[
    Role | None,
    typer.Option(
        help="registry-viewer (pull) or registry-editor (pull, push).", show_default=False
    ),
]
TtlOption = Annotated[
    str | None,
    typer.Option(metavar="TTL", help="Expire after TTL (4h, 30d).", show_default=False),
]


def _grant(text: str) -> dict[str, list[str]]:
    capabilities, separator, globs = text.rpartition(":")
    if not separator or not capabilities or not globs:
        raise UsageError(f"--grant {text!r}: write CAPABILITIES:GLOB, e.g. 'pull,push:team/*'")
    return {"capabilities": comma_list([capabilities]), "repositories": comma_list([globs])}


@clients_app.command("create")
@common_options()
def clients_create(
    options: Globals,
    description: DescriptionOption = "",
    grant: GrantOption = None,
    namespace: NamespaceOption = None,
    role: RoleOption = None,
    ttl: TtlOption = None,
    registry: RegistryOption = None,
    secret_name: SecretNameOption = None,
    format: SecretFormatOption = None,
) -> None:
    """Create an API client; its secret is shown this once.

    A new client holds nothing until granted: --grant, --role with -n, or later an
    access rule, role binding or policy. -o docker-config, k8s-secret or env prints the new
    credentials in that form instead, so the one-time secret goes straight where it is
    used: regctl api-clients create --role registry-viewer -n team -o k8s-secret |
    kubectl apply -f -.
    """
    body: dict[str, Any] = {"description": description}
    grants = [_grant(text) for text in grant or []]
    if grants:
        body["grants"] = grants
    if namespace:
        body["namespace"] = namespace
    if role is not None:
        body["role"] = role.value
    if ttl:
        body["ttl"] = ttl
    with connect(options) as api:
        created = api.call("POST", "/api-clients", body)
        server_url = api.target.server
    say(f"created API client {created['id']}: its secret is shown once, keep it now")
    emit_credentials(
        options, format or secret_default(options), created, server_url, registry, secret_name
    )


@clients_app.command("list")
@common_options()
def clients_list(options: Globals) -> None:
    """List API clients (yours; all for a registry admin)."""
    noun_list(options, "/api-clients", CLIENT_COLUMNS, empty="no API clients")


@clients_app.command("show")
@common_options()
def clients_show(options: Globals, client_id: ClientId) -> None:
    """Show an API client (never its secret)."""
    noun_show(options, f"/api-clients/{segment(client_id)}")


@clients_app.command("reset-secret")
@common_options()
def clients_reset_secret(
    options: Globals,
    client_id: ClientId,
    registry: RegistryOption = None,
    secret_name: SecretNameOption = None,
    format: SecretFormatOption = None,
) -> None:
    """Give an API client a new secret, shown this once; the old one stops working.

    -o docker-config, k8s-secret or env prints the new credentials in that form.
    """
    with connect(options) as api:
        reset = api.call("POST", f"/api-clients/{segment(client_id)}/reset-secret")
        server_url = api.target.server
    say(f"new secret for {client_id}: it is shown once, keep it now")
    emit_credentials(
        options, format or secret_default(options), reset, server_url, registry, secret_name
    )


@clients_app.command("delete")
@common_options(format=False)
def clients_delete(options: Globals, client_id: ClientId) -> None:
    """Delete an API client."""
    noun_delete(options, f"/api-clients/{segment(client_id)}", f"deleted API client {client_id}")


@clients_app.command("credentials")
@common_options()
def clients_credentials(
    options: Globals,
    client_id: ClientId,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read the client's secret from stdin (required).")
    ] = False,
    registry: RegistryOption = None,
    secret_name: SecretNameOption = None,
    format: Annotated[
        SecretFormat,
        typer.Option("-o", "--format", help="docker-config, k8s-secret or env."),
    ] = SecretFormat.docker_config,
) -> None:
    """Print an API client's credentials as docker-config, k8s-secret or env.

    The secret is only known at create and reset-secret time, so it comes on stdin
    (--secret-stdin); it is checked against the server's /v2/ first.
    """
    if format in (SecretFormat.table, SecretFormat.json, SecretFormat.yaml, SecretFormat.name):
        raise UsageError("credentials prints docker-config, k8s-secret or env")
    if not secret_stdin:
        raise UsageError("give the secret on stdin with --secret-stdin")
    secret = sys.stdin.read().strip()
    if not secret:
        raise UsageError("--secret-stdin: stdin is empty")
    server = _check_secret(options, client_id, secret)
    client = {"id": client_id, "secret": secret}
    emit_credentials(options, format, client, server, registry, secret_name)


def _check_secret(options: Globals, client_id: str, secret: str) -> str:
    """The server, once its /v2/ takes ``client_id`` with ``secret``."""
    from regctl.client import Api, problem_message
    from regctl.credential_stores import Credentials
    from regctl.errors import Unauthorized
    from regctl.target import Target, resolve

    target = resolve(options.server)
    robot = Target(target.server, Credentials(username=client_id, password=secret), None)
    with Api(robot) as api:
        response = api.send("GET", "/v2/")
    if not response.is_success:
        raise Unauthorized(
            f"{target.server} refused {client_id} with this secret: {problem_message(response)}"
        )
    return target.server
