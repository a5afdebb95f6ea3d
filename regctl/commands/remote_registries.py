"""``remote-registries``: the upstreams of the pull-through cache (noun grammar)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from regctl.commands import (
    STRONGBOX_PANEL,
    Nouns,
    noun_create,
    noun_delete,
    noun_group,
    noun_list,
    noun_show,
)
from regctl.options import FileOption, Globals, common_options
from regctl.output import Column
from regctl.paths import segment

REMOTES = "/image-registry/remote-registries"


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

remotes_app = noun_group("Remote registries (upstreams of the pull-through cache).")


def register(nouns: Nouns) -> None:
    nouns.add(remotes_app, "remote-registries", STRONGBOX_PANEL)


Address = Annotated[
    str, typer.Argument(metavar="ADDRESS", help="The upstream's address, e.g. docker.io.")
]


@remotes_app.command("list")
@common_options()
def remotes_list(options: Globals) -> None:
    """List remote registries."""
    noun_list(options, REMOTES, REMOTE_COLUMNS, empty="no remote registries")


@remotes_app.command("show")
@common_options()
def remotes_show(options: Globals, address: Address) -> None:
    """Show a remote registry."""
    noun_show(options, f"{REMOTES}/{segment(address)}")


@remotes_app.command("create")
@common_options()
def remotes_create(options: Globals, file: FileOption = None) -> None:
    """Add a remote registry from a body (YAML or JSON) on stdin or -f FILE.

    address (required), name (the repository-name prefix; default: the address with
    ':' as '-'), override-address, ca-cert, credentials: [{repository, vault, secret}].
    """
    from regctl.body import read_body

    noun_create(options, REMOTES, read_body(file))


@remotes_app.command("delete")
@common_options(format=False)
def remotes_delete(options: Globals, address: Address) -> None:
    """Remove a remote registry (its cached content stays)."""
    noun_delete(options, f"{REMOTES}/{segment(address)}", f"removed remote registry {address}")
