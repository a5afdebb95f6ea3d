"""The noun grammar (brightbox-style): ``regctl repositories list``, ``regctl tags delete``.

Nouns print a table on a terminal and JSON otherwise; ``-o`` overrides.
"""

from __future__ import annotations

from typing import Annotated

import typer

from regctl.commands import connect, noun_format
from regctl.options import DebugOption, FormatOption, QuietOption, ServerOption, say, take
from regctl.output import Column, emit
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

repositories = typer.Typer(
    help="Repositories (alias: repos): list, show, delete.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
tags = typer.Typer(
    help="A repository's tags: list, delete.", no_args_is_help=True, rich_markup_mode=None
)


@repositories.command("list")
def list_repositories(
    prefix: Annotated[
        str | None,
        typer.Option(metavar="PREFIX", help="Only names starting with PREFIX.", show_default=False),
    ] = None,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List repositories, sorted by name."""
    options = take(server, format, quiet, debug)
    query = f"?prefix={segment(prefix)}" if prefix else ""
    with connect(options) as api:
        found = api.call("GET", f"/repositories{query}")
    emit(found, noun_format(options), REPOSITORY_COLUMNS, empty="no repositories")


@repositories.command("show")
def show_repository(
    name: Repository,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Show a repository: tag and manifest counts, creation time."""
    options = take(server, format, quiet, debug)
    with connect(options) as api:
        found = api.call("GET", f"/repositories/{name_path(name)}")
    emit(found, noun_format(options))


@repositories.command("delete")
def delete_repository(
    name: Repository,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Delete a repository with its tags and manifests."""
    options = take(server, None, quiet, debug)
    with connect(options) as api:
        api.call("DELETE", f"/repositories/{name_path(name)}")
    say(f"deleted repository {name}")


@tags.command("list")
def list_tags(
    repository: Repository,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List a repository's tags with the digests they point at."""
    options = take(server, format, quiet, debug)
    with connect(options) as api:
        found = api.call("GET", f"/repositories/{name_path(repository)}/-/tags")
    emit(found, noun_format(options), TAG_COLUMNS, empty=f"{repository} has no tags")


@tags.command("delete")
def delete_tag(
    repository: Repository,
    tag: Annotated[str, typer.Argument(metavar="TAG", help="The tag, e.g. 1.0.")],
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Delete a tag (the manifest it points at stays)."""
    options = take(server, None, quiet, debug)
    with connect(options) as api:
        api.call("DELETE", f"/repositories/{name_path(repository)}/-/tags/{segment(tag)}")
    say(f"deleted tag {repository}:{tag}")
