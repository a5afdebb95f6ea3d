"""The noun grammar (brightbox-style): ``repositories`` (alias ``repos``) and ``tags``;
``repositories access-rules`` is in access.py.

Nouns print a table on a terminal and JSON otherwise; ``-o`` overrides.
"""

from __future__ import annotations

from typing import Annotated

import typer

from regctl.commands import noun_create, noun_delete, noun_group, noun_list, noun_show
from regctl.options import Globals, common_options
from regctl.output import Column
from regctl.paths import name_path, segment

PANEL = "Nouns (brightbox-style)"
REPOSITORY_COLUMNS = (
    Column("NAME", "name"),
    Column("TAGS", "tag-count"),
    Column("MANIFESTS", "manifest-count"),
    Column("CREATED", "created-at"),
)
TAG_COLUMNS = (
    Column("TAG", "name"),
    Column("DIGEST", "digest", short=True),
    Column("UPDATED", "updated-at"),
)

Repository = Annotated[
    str, typer.Argument(metavar="REPOSITORY", help="A repository name, e.g. acc-x/myapp/myapp.")
]

repositories = noun_group("Repositories (alias: repos): list, show, create, delete, access-rules.")
tags = noun_group("A repository's tags: list, delete.")


@repositories.command("list")
@common_options()
def list_repositories(
    options: Globals,
    prefix: Annotated[
        str | None,
        typer.Option(metavar="PREFIX", help="Only names starting with PREFIX.", show_default=False),
    ] = None,
) -> None:
    """List repositories, sorted by name."""
    query = f"?prefix={segment(prefix)}" if prefix else ""
    noun_list(options, f"/repositories{query}", REPOSITORY_COLUMNS, empty="no repositories")


@repositories.command("show")
@common_options()
def show_repository(options: Globals, name: Repository) -> None:
    """Show a repository: tag and manifest counts, creation time."""
    noun_show(options, f"/repositories/{name_path(name)}")


@repositories.command("create")
@common_options()
def create_repository(options: Globals, name: Repository) -> None:
    """Create an empty repository (needs push there); you become its owner, who manages
    its access rules. Images go below it: acc-x/myapp holds acc-x/myapp/myapp."""
    noun_create(options, "/repositories", {"name": name})


@repositories.command("delete")
@common_options(format=False)
def delete_repository(options: Globals, name: Repository) -> None:
    """Delete a repository with its tags and manifests."""
    noun_delete(options, f"/repositories/{name_path(name)}", f"deleted repository {name}")


@tags.command("list")
@common_options()
def list_tags(options: Globals, repository: Repository) -> None:
    """List a repository's tags with the digests they point at."""
    path = f"/repositories/{name_path(repository)}/-/tags"
    noun_list(options, path, TAG_COLUMNS, empty=f"{repository} has no tags")


@tags.command("delete")
@common_options(format=False)
def delete_tag(
    options: Globals,
    repository: Repository,
    tag: Annotated[str, typer.Argument(metavar="TAG", help="The tag, e.g. 1.0.")],
) -> None:
    """Delete a tag (the manifest it points at stays)."""
    path = f"/repositories/{name_path(repository)}/-/tags/{segment(tag)}"
    noun_delete(options, path, f"deleted tag {repository}:{tag}")
