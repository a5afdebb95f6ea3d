"""Who may do what: ``token``, ``tokens``, ``users``, ``api-clients``, ``policies`` and
``role-bindings`` (noun grammar: a table on a terminal, JSON otherwise, ``-o`` over both).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from regctl.commands import (
    add_group,
    call,
    comma_list,
    connect,
    noun_format,
    noun_group,
    principal_ref,
)
from regctl.errors import UsageError
from regctl.options import (
    DebugOption,
    Format,
    FormatOption,
    Globals,
    QuietOption,
    SecretFormat,
    ServerOption,
    say,
    take,
)
from regctl.output import Column, emit
from regctl.paths import name_path, segment

if TYPE_CHECKING:
    from regctl.client import Api

PANEL = "Identity and access"

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
USER_COLUMNS = (
    Column("NAME", "name"),
    Column("ADMIN", "admin"),
    Column("POLICIES", "policies"),
    Column("CREATED", "created-at"),
)
CLIENT_COLUMNS = (
    Column("ID", "id"),
    Column("DESCRIPTION", "description"),
    Column("OWNER", "owner"),
    Column("NAMESPACE", "namespace"),
    Column("POLICIES", "policies"),
    Column("EXPIRES", "expires-at"),
)
POLICY_COLUMNS = (
    Column("NAME", "name"),
    Column("BUILTIN", "builtin"),
    Column("DESCRIPTION", "description"),
)
BINDING_COLUMNS = (
    Column("ROLE", "role"),
    Column("PRINCIPAL", "principal"),
    Column("NAMESPACE", "namespace"),
)


class TokenFormat(StrEnum):
    """``token show --format``: brightbox's formats, plus docker's config.json."""

    text = "text"
    token = "token"  # noqa: S105 -- a format name
    json = "json"
    docker_config = "docker-config"
    curl = "curl"


class Role(StrEnum):
    registry_viewer = "registry-viewer"
    registry_editor = "registry-editor"


token_app = typer.Typer(
    help="A short-lived token for scripts and docker login (bare 'regctl token' is 'token show').",
    invoke_without_command=True,
    rich_markup_mode=None,
)
tokens_app = noun_group("Personal access tokens: create, list, revoke.")
users_app = noun_group("Users: list, show, create, delete, passwd.")
clients_app = noun_group(
    "API clients (robots, cli-xxxxx): create, list, show, reset-secret, delete, credentials."
)
policies_app = noun_group("Policies (capability bundles): list, show.")
bindings_app = noun_group("Role bindings (registry-viewer, registry-editor on a namespace).")


def register() -> None:
    add_group(token_app, "token", PANEL)
    add_group(tokens_app, "tokens", PANEL)
    add_group(users_app, "users", PANEL)
    add_group(clients_app, "api-clients", PANEL)
    add_group(policies_app, "policies", PANEL)
    add_group(bindings_app, "role-bindings", PANEL)


# -- token -----------------------------------------------------------------------------------

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
RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry",
        metavar="HOST",
        help="The registry host for docker-config and k8s-secret (default: the server's "
        "host[:port]).",
        show_default=False,
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
        from regctl.credentials import docker_config, dumps_config

        user = principal_name(str(minted.get("principal", "")))
        sys.stdout.write(dumps_config(docker_config(registry_host(server), user, token)))
    else:
        import shlex

        header = shlex.quote(f"Authorization: Bearer {token}")
        sys.stdout.write(f"curl -H {header} {server}/api/v1/repositories\n")


# -- tokens ----------------------------------------------------------------------------------

PoliciesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--policies",
        metavar="NAMES",
        help="Limit to these policies (comma-separated or repeated), e.g. registry-pull.",
        show_default=False,
    ),
]


@tokens_app.command("create")
def tokens_create(
    ttl: Annotated[
        str, typer.Option(metavar="TTL", help="The token's life (required): 4h, 30m, 1y2d5h.")
    ],
    name: Annotated[
        str, typer.Option(metavar="NAME", help="What the token is for.", show_default=False)
    ] = "",
    policies: PoliciesOption = None,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Create a personal access token; its value (token) is shown this once.

    Without --policies the token may do all its owner may; with them, no more than those
    policies allow. Use it as a bearer token (REGCTL_TOKEN) or as the password of any user
    name with docker login.
    """
    options = take(server, format, quiet, debug)
    with connect(options) as api:
        created = api.create_token(name, ttl, comma_list(policies) or None)
    say("the token is shown once: keep it now")
    emit(created, noun_format(options))


@tokens_app.command("list")
def tokens_list(
    all: Annotated[
        bool, typer.Option("--all", help="Every principal's tokens (registry admins).")
    ] = False,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List your tokens (personal, session and refresh), without their values."""
    options = take(server, format, quiet, debug)
    found = call(options, "GET", "/tokens?all=true" if all else "/tokens")
    columns = ALL_TOKEN_COLUMNS if all else TOKEN_COLUMNS
    emit(found, noun_format(options), columns, empty="no tokens")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (accessor).")],
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Revoke a token: it stops working at once."""
    call(take(server, None, quiet, debug), "DELETE", f"/tokens/{segment(token_id)}")
    say(f"revoked token {token_id}")


# -- users -----------------------------------------------------------------------------------

UserName = Annotated[str, typer.Argument(metavar="NAME", help="A user name.")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the new password from stdin (else asked twice)."),
]


def _new_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: stdin is empty")
        return password
    if not sys.stdin.isatty():
        raise UsageError("no password: pipe it with --password-stdin or run on a terminal")
    import getpass

    password = getpass.getpass("New password: ")
    if getpass.getpass("Repeat the password: ") != password:
        raise UsageError("the passwords differ")
    if not password:
        raise UsageError("the password is empty")
    return password


@users_app.command("list")
def users_list(
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List users (registry admins)."""
    options = take(server, format, quiet, debug)
    emit(call(options, "GET", "/users"), noun_format(options), USER_COLUMNS, empty="no users")


@users_app.command("show")
def users_show(
    name: UserName,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Show a user (yourself, or anyone for an admin)."""
    options = take(server, format, quiet, debug)
    emit(call(options, "GET", f"/users/{segment(name)}"), noun_format(options))


@users_app.command("create")
def users_create(
    name: UserName,
    password_stdin: PasswordStdinOption = False,
    admin: Annotated[bool, typer.Option("--admin", help="A registry admin.")] = False,
    policies: PoliciesOption = None,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Create a user; the password is read with --password-stdin or asked twice."""
    options = take(server, format, quiet, debug)
    body: dict[str, Any] = {"name": name, "password": _new_password(password_stdin)}
    if admin:
        body["admin"] = True
    if policies:
        body["policies"] = comma_list(policies)
    emit(call(options, "POST", "/users", body), noun_format(options))


@users_app.command("delete")
def users_delete(
    name: UserName,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Delete a user (registry admins)."""
    call(take(server, None, quiet, debug), "DELETE", f"/users/{segment(name)}")
    say(f"deleted user {name}")


@users_app.command("passwd")
def users_passwd(
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="The user (default: you).", show_default=False),
    ] = None,
    password_stdin: PasswordStdinOption = False,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Change a password (yours, or anyone's for an admin).

    The user's login sessions (docker's identity tokens) end; personal access tokens,
    regctl's login included, stay.
    """
    options = take(server, None, quiet, debug)
    password = _new_password(password_stdin)
    with connect(options) as api:
        user = name or _me(api)
        api.call("PATCH", f"/users/{segment(user)}", {"password": password})
    say(f"changed the password of {user}")


def _me(api: Api) -> str:
    credentials = api.target.credentials
    if credentials is not None and credentials.password and credentials.username:
        return credentials.username
    return api.whoami()


# -- api-clients -----------------------------------------------------------------------------

ClientId = Annotated[str, typer.Argument(metavar="ID", help="An API client id, cli-xxxxx.")]
SecretFormatOption = Annotated[
    SecretFormat | None,
    typer.Option(
        "-o",
        "--format",
        help="table, json, yaml or name; or the credentials as docker-config, k8s-secret or env.",
        show_default=False,
    ),
]
SecretNameOption = Annotated[
    str | None,
    typer.Option(
        "--secret-name",
        metavar="NAME",
        help="metadata.name of the k8s-secret (default: the client id).",
        show_default=False,
    ),
]


def _emit_secret(
    options: Globals,
    fmt: SecretFormat | None,
    client: dict[str, Any],
    server: str,
    registry: str | None,
    secret_name: str | None,
) -> None:
    """The client (with its one-time secret) in a noun format, or as credentials."""
    from regctl.config import registry_host

    client_id, secret = str(client["id"]), str(client["secret"])
    host = registry or registry_host(server)
    if fmt is SecretFormat.docker_config:
        from regctl.credentials import docker_config, dumps_config

        sys.stdout.write(dumps_config(docker_config(host, client_id, secret)))
    elif fmt is SecretFormat.k8s_secret:
        from regctl.credentials import k8s_secret

        sys.stdout.write(k8s_secret(secret_name or client_id, host, client_id, secret))
    elif fmt is SecretFormat.env:
        from regctl.credentials import env_lines

        sys.stdout.write(env_lines(server, client_id, secret))
    else:
        chosen = Format(fmt.value) if fmt is not None else noun_format(options)
        emit(client, chosen)


@clients_app.command("create")
def clients_create(
    description: Annotated[
        str, typer.Option(metavar="TEXT", help="What the client is for.", show_default=False)
    ] = "",
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            metavar="CAPS:GLOB",
            help="Capabilities over a repository glob, e.g. 'pull,push:team/*' (repeatable); "
            "only what you may grant yourself.",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "-n",
            "--namespace",
            metavar="NAMESPACE",
            help="With --role: a service account on this namespace (team covers team/*).",
            show_default=False,
        ),
    ] = None,
    role: Annotated[
        Role | None,
        typer.Option(
            help="registry-viewer (pull) or registry-editor (pull, push).", show_default=False
        ),
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option(metavar="TTL", help="Expire after TTL (4h, 30d).", show_default=False),
    ] = None,
    registry: RegistryOption = None,
    secret_name: SecretNameOption = None,
    server: ServerOption = None,
    format: SecretFormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Create an API client; its secret is shown this once.

    Pull-only unless granted more. -o docker-config, k8s-secret or env prints the new
    credentials in that form instead, so the one-time secret goes straight where it is
    used: regctl api-clients create --role registry-viewer -n team -o k8s-secret |
    kubectl apply -f -.
    """
    options = take(server, None, quiet, debug)
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
    _emit_secret(
        options, format or _secret_default(options), created, server_url, registry, secret_name
    )


def _secret_default(options: Globals) -> SecretFormat | None:
    return SecretFormat(options.format.value) if options.format is not None else None


def _grant(text: str) -> dict[str, list[str]]:
    capabilities, separator, globs = text.rpartition(":")
    if not separator or not capabilities or not globs:
        raise UsageError(f"--grant {text!r}: write CAPABILITIES:GLOB, e.g. 'pull,push:team/*'")
    return {"capabilities": comma_list([capabilities]), "repositories": comma_list([globs])}


@clients_app.command("list")
def clients_list(
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List API clients (yours; all for a registry admin)."""
    options = take(server, format, quiet, debug)
    found = call(options, "GET", "/api-clients")
    emit(found, noun_format(options), CLIENT_COLUMNS, empty="no API clients")


@clients_app.command("show")
def clients_show(
    client_id: ClientId,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Show an API client (never its secret)."""
    options = take(server, format, quiet, debug)
    emit(call(options, "GET", f"/api-clients/{segment(client_id)}"), noun_format(options))


@clients_app.command("reset-secret")
def clients_reset_secret(
    client_id: ClientId,
    registry: RegistryOption = None,
    secret_name: SecretNameOption = None,
    server: ServerOption = None,
    format: SecretFormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Give an API client a new secret, shown this once; the old one stops working.

    -o docker-config, k8s-secret or env prints the new credentials in that form.
    """
    options = take(server, None, quiet, debug)
    with connect(options) as api:
        reset = api.call("POST", f"/api-clients/{segment(client_id)}/reset-secret")
        server_url = api.target.server
    say(f"new secret for {client_id}: it is shown once, keep it now")
    _emit_secret(
        options, format or _secret_default(options), reset, server_url, registry, secret_name
    )


@clients_app.command("delete")
def clients_delete(
    client_id: ClientId,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Delete an API client."""
    call(take(server, None, quiet, debug), "DELETE", f"/api-clients/{segment(client_id)}")
    say(f"deleted API client {client_id}")


@clients_app.command("credentials")
def clients_credentials(
    client_id: ClientId,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read the client's secret from stdin (required).")
    ] = False,
    registry: RegistryOption = None,
    secret_name: SecretNameOption = None,
    server: ServerOption = None,
    format: Annotated[
        SecretFormat,
        typer.Option("-o", "--format", help="docker-config, k8s-secret or env."),
    ] = SecretFormat.docker_config,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Print an API client's credentials as docker-config, k8s-secret or env.

    The secret is only known at create and reset-secret time, so it comes on stdin
    (--secret-stdin); it is checked against the server's /v2/ first.
    """
    from regctl.client import Api, problem_message
    from regctl.config import Credentials, Target, resolve
    from regctl.errors import Unauthorized

    options = take(server, None, quiet, debug)
    if format in (SecretFormat.table, SecretFormat.json, SecretFormat.yaml, SecretFormat.name):
        raise UsageError("credentials prints docker-config, k8s-secret or env")
    if not secret_stdin:
        raise UsageError("give the secret on stdin with --secret-stdin")
    secret = sys.stdin.read().strip()
    if not secret:
        raise UsageError("--secret-stdin: stdin is empty")
    target = resolve(options.server)
    robot = Target(target.server, Credentials(username=client_id, password=secret), None)
    with Api(robot) as api:
        response = api.send("GET", "/v2/")
    if not response.is_success:
        raise Unauthorized(
            f"{target.server} refused {client_id} with this secret: {problem_message(response)}"
        )
    client = {"id": client_id, "secret": secret}
    _emit_secret(options, format, client, target.server, registry, secret_name)


# -- policies and role bindings --------------------------------------------------------------


@policies_app.command("list")
def policies_list(
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List policies, built-in ones included."""
    options = take(server, format, quiet, debug)
    found = call(options, "GET", "/policies")
    emit(found, noun_format(options), POLICY_COLUMNS, empty="no policies")


@policies_app.command("show")
def policies_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A policy, e.g. registry-push.")],
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Show a policy and its rules."""
    options = take(server, format, quiet, debug)
    emit(call(options, "GET", f"/policies/{segment(name)}"), noun_format(options))


Principal = Annotated[
    str,
    typer.Argument(
        metavar="PRINCIPAL",
        help="user:NAME, api-client:ID, or just NAME (a user) or cli-xxxxx (an API client).",
    ),
]
NamespaceOption = Annotated[
    str,
    typer.Option(
        "-n", "--namespace", metavar="NAMESPACE", help="The namespace: team covers team/*."
    ),
]


@bindings_app.command("list")
def bindings_list(
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List role bindings."""
    options = take(server, format, quiet, debug)
    found = call(options, "GET", "/role-bindings")
    emit(found, noun_format(options), BINDING_COLUMNS, empty="no role bindings")


@bindings_app.command("add")
def bindings_add(
    role: Annotated[
        Role, typer.Argument(metavar="ROLE", help="registry-viewer or registry-editor.")
    ],
    principal: Principal,
    namespace: NamespaceOption,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Bind ROLE to PRINCIPAL on a namespace, like oc policy add-role-to-user."""
    options = take(server, format, quiet, debug)
    body = {"role": role.value, "principal": principal_ref(principal), "namespace": namespace}
    emit(call(options, "POST", "/role-bindings", body), noun_format(options))


@bindings_app.command("remove")
def bindings_remove(
    role: Annotated[
        Role, typer.Argument(metavar="ROLE", help="registry-viewer or registry-editor.")
    ],
    principal: Principal,
    namespace: NamespaceOption,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Remove a role binding."""
    options = take(server, None, quiet, debug)
    reference = principal_ref(principal)
    path = "/".join(segment(part) for part in (role.value, reference))
    call(options, "DELETE", f"/role-bindings/{path}/{name_path(namespace)}")
    say(f"removed {role.value} from {reference} on {namespace}")
