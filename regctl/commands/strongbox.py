"""Strongbox and upstreams: ``vaults``, ``secrets`` and ``remote-registries`` (noun grammar).

Secret values are printed only when the server returns them (the caller holds
``strongbox-read``); otherwise a secret shows its key names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from regctl.commands import add_group, call, noun_format, noun_group
from regctl.errors import UsageError
from regctl.options import (
    DebugOption,
    FormatOption,
    QuietOption,
    ServerOption,
    say,
    take,
)
from regctl.output import Column, emit
from regctl.paths import segment

PANEL = "Strongbox and remote registries"
VAULTS = "/strongbox/vaults"
REMOTES = "/image-registry/remote-registries"

VAULT_COLUMNS = (
    Column("NAME", "name"),
    Column("SECRETS", "secret-count"),
    Column("CREATED", "created-at"),
)
SECRET_COLUMNS = (
    Column("NAME", "name"),
    Column("KEYS", "keys"),
    Column("UPDATED", "updated-at"),
)


def _credentials_cell(value: Any) -> str:
    """``[{repository, vault, secret}]`` -> ``* creds/hub, team/* creds/team``."""
    if not isinstance(value, list):
        return ""
    return ", ".join(
        f"{item.get('repository', '*')} {item.get('vault')}/{item.get('secret')}"
        for item in value
        if isinstance(item, dict)
    )


REMOTE_COLUMNS = (
    Column("ADDRESS", "address"),
    Column("NAME", "name"),
    Column("CREDENTIALS", "credentials", render=_credentials_cell),
    Column("CREATED", "created-at"),
)


vaults_app = noun_group("Strongbox vaults: list, show, create, delete.")
secrets_app = noun_group("Secrets in a vault: list, show, create, delete.")
remotes_app = noun_group("Remote registries (upstreams of the pull-through cache).")


def register() -> None:
    add_group(vaults_app, "vaults", PANEL)
    add_group(secrets_app, "secrets", PANEL)
    add_group(remotes_app, "remote-registries", PANEL)


Vault = Annotated[str, typer.Argument(metavar="VAULT", help="A vault name.")]
SecretName = Annotated[str, typer.Argument(metavar="NAME", help="A secret in the vault.")]
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

# -- vaults ----------------------------------------------------------------------------------


@vaults_app.command("list")
def vaults_list(
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List vaults with their number of secrets."""
    options = take(server, format, quiet, debug)
    emit(call(options, "GET", VAULTS), noun_format(options), VAULT_COLUMNS, empty="no vaults")


@vaults_app.command("show")
def vaults_show(
    vault: Vault,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Show a vault."""
    options = take(server, format, quiet, debug)
    emit(call(options, "GET", f"{VAULTS}/{segment(vault)}"), noun_format(options))


@vaults_app.command("create")
def vaults_create(
    vault: Vault,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Create a vault (needs strongbox-write)."""
    options = take(server, format, quiet, debug)
    emit(call(options, "POST", VAULTS, {"name": vault}), noun_format(options))


@vaults_app.command("delete")
def vaults_delete(
    vault: Vault,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Delete a vault with its secrets."""
    call(take(server, None, quiet, debug), "DELETE", f"{VAULTS}/{segment(vault)}")
    say(f"deleted vault {vault}")


# -- secrets ---------------------------------------------------------------------------------


@secrets_app.command("list")
def secrets_list(
    vault: Vault,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List a vault's secrets: names and key names, never values."""
    options = take(server, format, quiet, debug)
    found = call(options, "GET", f"{VAULTS}/{segment(vault)}/secrets")
    emit(found, noun_format(options), SECRET_COLUMNS, empty=f"no secrets in {vault}")


@secrets_app.command("show")
def secrets_show(
    vault: Vault,
    name: SecretName,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Show a secret; its values only when the server returns them (strongbox-read)."""
    options = take(server, format, quiet, debug)
    found = call(options, "GET", f"{VAULTS}/{segment(vault)}/secrets/{segment(name)}")
    emit(found, noun_format(options))


@secrets_app.command("create")
def secrets_create(
    vault: Vault,
    name: SecretName,
    literal: Annotated[
        list[str] | None,
        typer.Option(
            "--from-literal",
            metavar="KEY=VALUE",
            help="A key and its value (repeatable), as kubectl create secret does.",
            show_default=False,
        ),
    ] = None,
    from_file: Annotated[
        list[str] | None,
        typer.Option(
            "--from-file",
            metavar="KEY=PATH",
            help="A key and the file holding its value ('-': stdin); not UTF-8 text goes "
            "as base64-data.",
            show_default=False,
        ),
    ] = None,
    allow_image_access: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-image-access",
            metavar="GLOB",
            help="Images that may read the secret (repeatable), e.g. '*'.",
            show_default=False,
        ),
    ] = None,
    file: FileOption = None,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Create secret NAME in VAULT from --from-literal/--from-file, else from a body.

    Without --from-literal and --from-file the body (YAML or JSON: data, base64-data,
    allow-image-access) comes from stdin or -f FILE; its name defaults to NAME.
    """
    options = take(server, format, quiet, debug)
    if literal or from_file:
        body = _secret_body(literal or [], from_file or [])
    else:
        from regctl.body import read_body

        body = read_body(file)
        if not isinstance(body, dict):
            raise UsageError("the body of a secret is a mapping (data, base64-data, ...)")
    body.setdefault("name", name)
    if allow_image_access:
        body["allow-image-access"] = allow_image_access
    emit(call(options, "POST", f"{VAULTS}/{segment(vault)}/secrets", body), noun_format(options))


def _pair(text: str, option: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise UsageError(f"{option} {text!r}: write KEY=VALUE")
    return key, value


def _secret_body(literals: list[str], files: list[str]) -> dict[str, Any]:
    import base64
    import sys

    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for text in literals:
        key, value = _pair(text, "--from-literal")
        data[key] = value
    for text in files:
        key, path = _pair(text, "--from-file")
        try:
            raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
        try:
            data[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(raw).decode("ascii")
    body: dict[str, Any] = {"data": data}
    if binary:
        body["base64-data"] = binary
    return body


@secrets_app.command("delete")
def secrets_delete(
    vault: Vault,
    name: SecretName,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Delete a secret."""
    options = take(server, None, quiet, debug)
    call(options, "DELETE", f"{VAULTS}/{segment(vault)}/secrets/{segment(name)}")
    say(f"deleted secret {name} from {vault}")


# -- remote registries -----------------------------------------------------------------------

Address = Annotated[
    str, typer.Argument(metavar="ADDRESS", help="The upstream's address, e.g. docker.io.")
]


@remotes_app.command("list")
def remotes_list(
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List remote registries."""
    options = take(server, format, quiet, debug)
    found = call(options, "GET", REMOTES)
    emit(found, noun_format(options), REMOTE_COLUMNS, empty="no remote registries")


@remotes_app.command("show")
def remotes_show(
    address: Address,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Show a remote registry."""
    options = take(server, format, quiet, debug)
    emit(call(options, "GET", f"{REMOTES}/{segment(address)}"), noun_format(options))


@remotes_app.command("create")
def remotes_create(
    file: FileOption = None,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Add a remote registry from a body (YAML or JSON) on stdin or -f FILE.

    address (required), name (the repository-name prefix; default: the address with
    ':' as '-'), override-address, ca-cert, credentials: [{repository, vault, secret}].
    """
    from regctl.body import read_body

    options = take(server, format, quiet, debug)
    emit(call(options, "POST", REMOTES, read_body(file)), noun_format(options))


@remotes_app.command("delete")
def remotes_delete(
    address: Address,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Remove a remote registry (its cached content stays)."""
    call(take(server, None, quiet, debug), "DELETE", f"{REMOTES}/{segment(address)}")
    say(f"removed remote registry {address}")
