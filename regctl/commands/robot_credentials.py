"""An API client's one-time credentials, printed as they are used: docker-config,
k8s-secret, env, or the object in a noun format (``api-clients create|reset-secret|
credentials`` and ``repositories access-rules add --new-api-client``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from regctl.commands import noun_format
from regctl.options import Format, Globals, SecretFormat
from regctl.output import emit

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


def emit_credentials(
    options: Globals,
    fmt: SecretFormat | None,
    client: dict[str, Any],
    server: str,
    registry: str | None,
    secret_name: str | None,
    whole: dict[str, Any] | None = None,
) -> None:
    """The client (with its one-time secret) as credentials, or ``whole`` (default: the
    client) in a noun format."""
    from regctl.config import registry_host

    client_id, secret = str(client["id"]), str(client["secret"])
    host = registry or registry_host(server)
    if fmt is SecretFormat.docker_config:
        from regctl.credential_formats import docker_config, dumps_config

        sys.stdout.write(dumps_config(docker_config(host, client_id, secret)))
    elif fmt is SecretFormat.k8s_secret:
        from regctl.credential_formats import k8s_secret

        sys.stdout.write(k8s_secret(secret_name or client_id, host, client_id, secret))
    elif fmt is SecretFormat.env:
        from regctl.credential_formats import env_lines

        sys.stdout.write(env_lines(server, client_id, secret))
    else:
        chosen = Format(fmt.value) if fmt is not None else noun_format(options)
        emit(client if whole is None else whole, chosen)


def secret_default(options: Globals) -> SecretFormat | None:
    return SecretFormat(options.format.value) if options.format is not None else None
