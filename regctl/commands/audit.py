"""``audit``: list (noun grammar) — the audit log of regd (registry admins)."""

from __future__ import annotations

from typing import Annotated

import typer

from regctl.commands import Nouns, noun_group, noun_list, principal_ref
from regctl.options import Globals, common_options
from regctl.output import Column

PANEL = "Operations"
AUDIT_COLUMNS = (
    Column("TIME", "time"),
    Column("EVENT", "event"),
    Column("PRINCIPAL", "principal"),
    Column("SOURCE", "source"),
    Column("OUTCOME", "outcome"),
    Column("DETAILS", "details"),
)

audit_app = noun_group("The audit log: list.")


def register(nouns: Nouns) -> None:
    nouns.add(audit_app, "audit", PANEL)


@audit_app.command("list")
@common_options()
def audit_list(
    options: Globals,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="From this long ago (1h, 2d) or this time (2026-12-03T10:00:00Z).",
            show_default=False,
        ),
    ] = None,
    principal: Annotated[
        str | None,
        typer.Option(
            metavar="WHO",
            help="Only this user, API client (cli-xxxxx) or 'anonymous'.",
            show_default=False,
        ),
    ] = None,
    event: Annotated[
        str | None,
        typer.Option(
            metavar="EVENT",
            help="Only this event (login, push, token.create) or prefix ending in '.' (token.).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        str | None, typer.Option(metavar="N", help="At most N events (default 1000).")
    ] = None,
) -> None:
    """List audit events, oldest first (registry admins): logins, tokens, grants, secret
    reads, pushes, deletes, garbage collections."""
    from urllib.parse import urlencode

    who = None
    if principal is not None:
        who = "anonymous" if principal == "anonymous" else principal_ref(principal)
    query = {"since": since, "principal": who, "event": event, "limit": limit}
    given = {key: value for key, value in query.items() if value}
    path = "/audit" + (f"?{urlencode(given)}" if given else "")
    noun_list(options, path, AUDIT_COLUMNS, empty="no audit events")
