"""``users``: list, show, create, delete, passwd (noun grammar)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from regctl.commands import (
    IDENTITY_PANEL,
    Nouns,
    comma_list,
    connect,
    noun_create,
    noun_delete,
    noun_group,
    noun_list,
    noun_show,
    password_from_stdin,
)
from regctl.errors import UsageError
from regctl.options import Globals, PoliciesOption, common_options, say
from regctl.output import Column
from regctl.paths import segment

if TYPE_CHECKING:
    from regctl.client import Api

USER_COLUMNS = (
    Column("NAME", "name"),
    Column("ADMIN", "admin"),
    Column("POLICIES", "policies"),
    Column("CREATED", "created-at"),
)

users_app = noun_group("Users: list, show, create, delete, passwd.")


def register(nouns: Nouns) -> None:
    nouns.add(users_app, "users", IDENTITY_PANEL)


UserName = Annotated[str, typer.Argument(metavar="NAME", help="A user name.")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the new password from stdin (else asked twice)."),
]


def _new_password(password_stdin: bool) -> str:
    if password_stdin:
        return password_from_stdin()
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
@common_options()
def users_list(options: Globals) -> None:
    """List users (registry admins)."""
    noun_list(options, "/users", USER_COLUMNS, empty="no users")


@users_app.command("show")
@common_options()
def users_show(options: Globals, name: UserName) -> None:
    """Show a user (yourself, or anyone for an admin)."""
    noun_show(options, f"/users/{segment(name)}")


@users_app.command("create")
@common_options()
def users_create(
    options: Globals,
    name: UserName,
    password_stdin: PasswordStdinOption = False,
    admin: Annotated[bool, typer.Option("--admin", help="A registry admin.")] = False,
    policies: PoliciesOption = None,
) -> None:
    """Create a user; the password is read with --password-stdin or asked twice."""
    body: dict[str, Any] = {"name": name, "password": _new_password(password_stdin)}
    if admin:
        body["admin"] = True
    if policies:
        body["policies"] = comma_list(policies)
    noun_create(options, "/users", body)


@users_app.command("delete")
@common_options(format=False)
def users_delete(options: Globals, name: UserName) -> None:
    """Delete a user (registry admins)."""
    noun_delete(options, f"/users/{segment(name)}", f"deleted user {name}")


@users_app.command("passwd")
@common_options(format=False)
def users_passwd(
    options: Globals,
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="The user (default: you).", show_default=False),
    ] = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Change a password (yours, or anyone's for an admin).

    The user's login sessions (docker's identity tokens) end; personal access tokens,
    regctl's login included, stay.
    """
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
