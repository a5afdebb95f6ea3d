"""``webhooks``: list, show, create, delete, deliveries (noun grammar; registry admins).

The path grammar reaches the same API: ``regctl create webhooks < hook.yaml``,
``regctl show webhooks NAME deliveries``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from regctl.commands import (
    Nouns,
    comma_list,
    noun_create,
    noun_delete,
    noun_group,
    noun_list,
    noun_show,
    password_from_stdin,
)
from regctl.commands.audit import PANEL
from regctl.errors import UsageError
from regctl.options import Globals, common_options
from regctl.output import Column
from regctl.paths import segment

WEBHOOK_COLUMNS = (
    Column("NAME", "name"),
    Column("URL", "url"),
    Column("EVENTS", "events"),
    Column("REPOSITORIES", "repositories"),
    Column("SIGNED", "signed"),
)
DELIVERY_COLUMNS = (
    Column("TIME", "time"),
    Column("OUTCOME", "outcome"),
    Column("ACTION", "action"),
    Column("REPOSITORY", "repository"),
    Column("ATTEMPTS", "attempts"),
    Column("STATUS", "status"),
    Column("ERROR", "error"),
)

webhooks_app = noun_group("Webhooks (event notifications): list, show, create, delete, deliveries.")
WebhookName = Annotated[str, typer.Argument(metavar="NAME", help="The webhook's name.")]


def register(nouns: Nouns) -> None:
    nouns.add(webhooks_app, "webhooks", PANEL)


@webhooks_app.command("list")
@common_options()
def webhooks_list(options: Globals) -> None:
    """List webhook endpoints."""
    noun_list(options, "/webhooks", WEBHOOK_COLUMNS, empty="no webhooks")


@webhooks_app.command("show")
@common_options()
def webhooks_show(options: Globals, name: WebhookName) -> None:
    """Show a webhook endpoint (header names only; whether it is signed)."""
    noun_show(options, f"/webhooks/{segment(name)}")


@webhooks_app.command("create")
@common_options()
def webhooks_create(
    options: Globals,
    name: WebhookName,
    url: Annotated[str, typer.Option(metavar="URL", help="Where events are POSTed.")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            metavar="EVENT",
            help="push, pull, delete, tag, mount, pull-through (repeat or comma-separate; "
            "default: all).",
            show_default=False,
        ),
    ] = None,
    repositories: Annotated[
        str, typer.Option(metavar="GLOB", help="Only repositories matching this glob.")
    ] = "*",
    header: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=VALUE", help="A header sent with every POST (repeat).", show_default=False
        ),
    ] = None,
    secret_stdin: Annotated[
        bool,
        typer.Option("--secret-stdin", help="Read an HMAC key from stdin: X-Regd-Signature-256."),
    ] = False,
) -> None:
    """Create a webhook endpoint."""
    body: dict[str, Any] = {"name": name, "url": url, "repositories": repositories}
    if event:
        body["events"] = comma_list(event)
    headers: dict[str, str] = {}
    for item in header or []:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise UsageError(f"--header {item!r}: write NAME=VALUE")
        headers[key] = value
    if headers:
        body["headers"] = headers
    if secret_stdin:
        body["secret"] = password_from_stdin()
    noun_create(options, "/webhooks", body)


@webhooks_app.command("delete")
@common_options(format=False)
def webhooks_delete(options: Globals, name: WebhookName) -> None:
    """Delete a webhook endpoint, its queued events and its history."""
    noun_delete(options, f"/webhooks/{segment(name)}", f"deleted webhook {name}")


@webhooks_app.command("deliveries")
@common_options()
def webhooks_deliveries(options: Globals, name: WebhookName) -> None:
    """Events still queued (oldest first), then deliveries (newest first)."""
    noun_list(
        options, f"/webhooks/{segment(name)}/deliveries", DELIVERY_COLUMNS, empty="no deliveries"
    )
