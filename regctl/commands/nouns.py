"""The noun grammar (brightbox-style): ``regctl repositories list``, ``regctl tags delete``.

Nouns print a table on a terminal and JSON otherwise; ``-o`` overrides.
"""

from __future__ import annotations

from typing import Annotated

import typer

from regctl.commands import call, noun_format, noun_group
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

repositories = noun_group("Repositories (alias: repos): list, show, delete, access-rules.")
tags = noun_group("A repository's tags: list, delete.")


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
    found = call(options, "GET", f"/repositories{query}")
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
    found = call(options, "GET", f"/repositories/{name_path(name)}")
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
    call(options, "DELETE", f"/repositories/{name_path(name)}")
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
    found = call(options, "GET", f"/repositories/{name_path(repository)}/-/tags")
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
    call(options, "DELETE", f"/repositories/{name_path(repository)}/-/tags/{segment(tag)}")
    say(f"deleted tag {repository}:{tag}")


# -- access rules ----------------------------------------------------------------------------

RULE_COLUMNS = (Column("PRINCIPAL", "principal"), Column("ACTIONS", "actions"))
access_rules = noun_group(
    "A repository's access rules (who may pull, push, delete): add, list, remove."
)
repositories.add_typer(access_rules, name="access-rules")

RulePrincipal = Annotated[
    str,
    typer.Argument(
        metavar="PRINCIPAL",
        help="user:NAME, api-client:ID or public; or just NAME (a user) or cli-xxxxx.",
    ),
]


@access_rules.command("add")
def add_access_rule(
    repository: Repository,
    principal: RulePrincipal,
    actions: Annotated[
        list[str] | None,
        typer.Option(
            "--actions",
            metavar="ACTIONS",
            help="pull, push, delete (comma-separated or repeated; default pull). public only "
            "ever pulls.",
            show_default=False,
        ),
    ] = None,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Let PRINCIPAL pull (push, delete) REPOSITORY; replaces its previous rule there."""
    from regctl.commands import comma_list, principal_ref

    options = take(server, format, quiet, debug)
    body = {"principal": principal_ref(principal), "actions": comma_list(actions) or ["pull"]}
    rule = call(options, "POST", f"/repositories/{name_path(repository)}/-/access-rules", body)
    emit(rule, noun_format(options))


@access_rules.command("list")
def list_access_rules(
    repository: Repository,
    server: ServerOption = None,
    format: FormatOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """List REPOSITORY's access rules (needs admin there: its owner or a registry admin)."""
    options = take(server, format, quiet, debug)
    rules = call(options, "GET", f"/repositories/{name_path(repository)}/-/access-rules")
    emit(rules, noun_format(options), RULE_COLUMNS, empty=f"{repository} has no access rules")


@access_rules.command("remove")
def remove_access_rule(
    repository: Repository,
    principal: RulePrincipal,
    server: ServerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Remove PRINCIPAL's access rule from REPOSITORY."""
    from regctl.commands import principal_ref

    options = take(server, None, quiet, debug)
    reference = principal_ref(principal)
    path = f"/repositories/{name_path(repository)}/-/access-rules/{segment(reference)}"
    call(options, "DELETE", path)
    say(f"removed the access rule of {reference} from {repository}")
