"""Strongbox: ``vaults`` and the ``secrets`` in them (noun grammar).

Secret values are printed only when the server returns them (the caller holds
``strongbox-read``); otherwise a secret shows its key names.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from regctl.commands import (
    STRONGBOX_PANEL,
    Nouns,
    call,
    connect,
    noun_create,
    noun_delete,
    noun_format,
    noun_group,
    noun_list,
    noun_show,
)
from regctl.errors import UsageError
from regctl.options import FileOption, Format, Globals, SecretFormat, common_options
from regctl.output import Column, emit
from regctl.paths import segment

VAULTS = "/strongbox/vaults"
MERGE_PATCH = "application/merge-patch+json"

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

vaults_app = noun_group("Strongbox vaults: list, show, create, delete.")
secrets_app = noun_group("Secrets in a vault: list, show, create, set, delete.")


def register(nouns: Nouns) -> None:
    nouns.add(vaults_app, "vaults", STRONGBOX_PANEL)
    nouns.add(secrets_app, "secrets", STRONGBOX_PANEL)


Vault = Annotated[str, typer.Argument(metavar="VAULT", help="A vault name.")]
SecretName = Annotated[str, typer.Argument(metavar="NAME", help="A secret in the vault.")]


def _vault(vault: str) -> str:
    return f"{VAULTS}/{segment(vault)}"


def _secret(vault: str, name: str) -> str:
    return f"{VAULTS}/{segment(vault)}/secrets/{segment(name)}"


# -- vaults ----------------------------------------------------------------------------------


@vaults_app.command("list")
@common_options()
def vaults_list(options: Globals) -> None:
    """List vaults with their number of secrets."""
    noun_list(options, VAULTS, VAULT_COLUMNS, empty="no vaults")


@vaults_app.command("show")
@common_options()
def vaults_show(options: Globals, vault: Vault) -> None:
    """Show a vault."""
    noun_show(options, _vault(vault))


@vaults_app.command("create")
@common_options()
def vaults_create(options: Globals, vault: Vault) -> None:
    """Create a vault (needs strongbox-write)."""
    noun_create(options, VAULTS, {"name": vault})


@vaults_app.command("delete")
@common_options(format=False)
def vaults_delete(options: Globals, vault: Vault) -> None:
    """Delete a vault with its secrets."""
    noun_delete(options, _vault(vault), f"deleted vault {vault}")


# -- secrets ---------------------------------------------------------------------------------

LiteralOption = Annotated[
    list[str] | None,
    typer.Option(
        "--from-literal",
        metavar="KEY=VALUE",
        help="A key and its value (repeatable), as kubectl create secret does.",
        show_default=False,
    ),
]
FromFileOption = Annotated[
    list[str] | None,
    typer.Option(
        "--from-file",
        metavar="KEY=PATH",
        help="A key and the file holding its value ('-': stdin); not UTF-8 text goes "
        "as base64-data.",
        show_default=False,
    ),
]
ImageAccessOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-image-access",
        metavar="GLOB",
        help="Images that may read the secret (repeatable), e.g. '*'.",
        show_default=False,
    ),
]


@secrets_app.command("list")
@common_options()
def secrets_list(options: Globals, vault: Vault) -> None:
    """List a vault's secrets: names and key names, never values."""
    noun_list(options, f"{_vault(vault)}/secrets", SECRET_COLUMNS, empty=f"no secrets in {vault}")


@secrets_app.command("show")
@common_options()
def secrets_show(
    options: Globals,
    vault: Vault,
    name: SecretName,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            metavar="HOST",
            help="docker-config, k8s-secret: the registry the credentials are for (not "
            "needed when the secret holds a config.json key).",
            show_default=False,
        ),
    ] = None,
    secret_name: Annotated[
        str | None,
        typer.Option(
            "--secret-name",
            metavar="NAME",
            help="metadata.name of the k8s-secret (default: the secret's name).",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        SecretFormat | None,
        typer.Option(
            "-o",
            "--format",
            help="table, json, yaml or name; or the secret's registry credentials as a "
            "docker-config (config.json) or k8s-secret.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show a secret; its values only when the server returns them (strongbox-read).

    -o docker-config prints the Docker config.json the secret stands for: its config.json
    key as it is, or one made of username+password (or token) for --registry HOST;
    -o k8s-secret the same as a kubernetes.io/dockerconfigjson Secret.
    """
    chosen = format.value if format is not None else None
    if chosen == SecretFormat.env:
        raise UsageError("-o env is for API clients: a secret shows as docker-config or k8s-secret")
    if chosen not in (SecretFormat.docker_config, SecretFormat.k8s_secret):
        if chosen is not None:
            options.format = Format(chosen)
        noun_show(options, _secret(vault, name))
        return
    from urllib.parse import urlencode

    query = {"server": registry} if registry else {}
    if chosen == SecretFormat.k8s_secret and secret_name:
        query["name"] = secret_name
    path = f"{_secret(vault, name)}/{chosen}" + (f"?{urlencode(query)}" if query else "")
    rendered = call(options, "GET", path)
    if chosen == SecretFormat.docker_config:
        from regctl.credential_formats import dumps_config

        sys.stdout.write(dumps_config(rendered))
    else:
        emit(rendered, Format.yaml)


@secrets_app.command("create")
@common_options()
def secrets_create(
    options: Globals,
    vault: Vault,
    name: SecretName,
    literal: LiteralOption = None,
    from_file: FromFileOption = None,
    allow_image_access: ImageAccessOption = None,
    file: FileOption = None,
) -> None:
    """Create secret NAME in VAULT from --from-literal/--from-file, else from a body.

    Without --from-literal and --from-file the body (YAML or JSON: data, base64-data,
    allow-image-access) comes from stdin or -f FILE; its name defaults to NAME.
    """
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
    noun_create(options, f"{_vault(vault)}/secrets", body)


def _pair(text: str, option: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise UsageError(f"{option} {text!r}: write KEY=VALUE")
    return key, value


def _secret_body(
    literals: list[str], files: list[str], literal_option: str = "--from-literal"
) -> dict[str, Any]:
    import base64

    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for text in literals:
        key, value = _pair(text, literal_option)
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


@secrets_app.command("set")
@common_options()
def secrets_set(
    options: Globals,
    vault: Vault,
    name: SecretName,
    pairs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[KEY=VALUE]...",
            help="Keys to set; the secret's other keys stay as they are.",
            show_default=False,
        ),
    ] = None,
    from_file: FromFileOption = None,
    remove: Annotated[
        list[str] | None,
        typer.Option(
            "--remove", metavar="KEY", help="A key to remove (repeatable).", show_default=False
        ),
    ] = None,
) -> None:
    """Set (or --remove) some keys of an existing secret without resending the others.

    A JSON merge patch (PATCH), as regctl merge strongbox vaults VAULT secrets NAME with
    {"data": {"KEY": "VALUE"}} does: regctl secrets set ops creds
    --from-file config.json=$HOME/.docker/config.json.
    """
    if not pairs and not from_file and not remove:
        raise UsageError("give KEY=VALUE, --from-file KEY=PATH or --remove KEY")
    given = _secret_body(pairs or [], from_file or [], literal_option="KEY=VALUE")
    data: dict[str, str | None] = dict(given["data"])
    binary: dict[str, str | None] = dict(given.get("base64-data", {}))
    for key in remove or []:
        data[key] = binary[key] = None
    # A key lives in one of the two maps: setting it in one drops it from the other.
    for key in list(data):
        if data[key] is not None:
            binary.setdefault(key, None)
    for key in list(binary):
        if binary[key] is not None:
            data.setdefault(key, None)
    patch = {"data": data, "base64-data": binary}
    with connect(options) as api:
        result = api.call("PATCH", _secret(vault, name), patch, MERGE_PATCH)
    emit(result, noun_format(options))


@secrets_app.command("delete")
@common_options(format=False)
def secrets_delete(options: Globals, vault: Vault, name: SecretName) -> None:
    """Delete a secret."""
    noun_delete(options, _secret(vault, name), f"deleted secret {name} from {vault}")
