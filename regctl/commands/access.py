"""Who may do what: ``policies``, ``role-bindings`` and ``repositories access-rules``
(noun grammar).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from regctl.commands import (
    IDENTITY_PANEL,
    Nouns,
    call,
    comma_list,
    connect,
    noun_create,
    noun_delete,
    noun_format,
    noun_group,
    noun_list,
    noun_show,
    principal_ref,
)
from regctl.commands.nouns import Repository
from regctl.commands.robot_credentials import (
    RegistryOption,
    SecretFormatOption,
    SecretNameOption,
    emit_credentials,
    secret_default,
)
from regctl.errors import UsageError
from regctl.options import Format, Globals, common_options, say
from regctl.output import Column, emit
from regctl.paths import name_path, segment

POLICY_COLUMNS = (
    Column("NAME", "name"),
    Column("BUILTIN", "builtin"),
    Column("DESCRIPTION", "description"),
)
BINDING_COLUMNS = (
    Column("ROLE", "role"),
    Column("PRINCIPAL", "principal"),
    Column("NAMESPACE", "namespace"),
)
RULE_COLUMNS = (Column("PRINCIPAL", "principal"), Column("ACTIONS", "actions"))


class Role(StrEnum):
    registry_viewer = "registry-viewer"
    registry_editor = "registry-editor"


policies_app = noun_group("Policies (capability bundles): list, show.")
bindings_app = noun_group("Role bindings (registry-viewer, registry-editor on a namespace).")
access_rules = noun_group(
    "A repository's access rules (who may pull, push, delete): add, list, remove."
)


def register(repositories: typer.Typer, nouns: Nouns) -> None:
    """The policies and role-bindings nouns; access-rules under ``repositories``."""
    nouns.add(policies_app, "policies", IDENTITY_PANEL)
    nouns.add(bindings_app, "role-bindings", IDENTITY_PANEL)
    repositories.add_typer(access_rules, name="access-rules")


# -- policies --------------------------------------------------------------------------------


@policies_app.command("list")
@common_options()
def policies_list(options: Globals) -> None:
    """List policies, built-in ones included."""
    noun_list(options, "/policies", POLICY_COLUMNS, empty="no policies")


@policies_app.command("show")
@common_options()
def policies_show(
    options: Globals,
    name: Annotated[str, typer.Argument(metavar="NAME", help="A policy, e.g. registry-push.")],
) -> None:
    """Show a policy and its rules."""
    noun_show(options, f"/policies/{segment(name)}")


# -- role bindings ---------------------------------------------------------------------------

RoleArgument = Annotated[
    Role, typer.Argument(metavar="ROLE", help="registry-viewer or registry-editor.")
]
Principal = Annotated[
    str,
    typer.Argument(
        metavar="PRINCIPAL",
        help="user:NAME, api-client:ID, or just NAME (a user) or cli-xxxxx (an API client).",
    ),
]
NamespaceOption = Annotated[
    str,
    typer.Option(
        "-n", "--namespace", metavar="NAMESPACE", help="The namespace: team covers team/*."
    ),
]


@bindings_app.command("list")
@common_options()
def bindings_list(options: Globals) -> None:
    """List role bindings."""
    noun_list(options, "/role-bindings", BINDING_COLUMNS, empty="no role bindings")


@bindings_app.command("add")
@common_options()
def bindings_add(
    options: Globals, role: RoleArgument, principal: Principal, namespace: NamespaceOption
) -> None:
    """Bind ROLE to PRINCIPAL on a namespace, like oc policy add-role-to-user."""
    body = {"role": role.value, "principal": principal_ref(principal), "namespace": namespace}
    noun_create(options, "/role-bindings", body)


@bindings_app.command("remove")
@common_options(format=False)
def bindings_remove(
    options: Globals, role: RoleArgument, principal: Principal, namespace: NamespaceOption
) -> None:
    """Remove a role binding."""
    reference = principal_ref(principal)
    path = "/".join(segment(part) for part in (role.value, reference))
    done = f"removed {role.value} from {reference} on {namespace}"
    noun_delete(options, f"/role-bindings/{path}/{name_path(namespace)}", done)


# -- repositories access-rules ---------------------------------------------------------------

RulePrincipal = Annotated[
    str,
    typer.Argument(
        metavar="PRINCIPAL",
        help="user:NAME, api-client:ID or public; or just NAME (a user) or cli-xxxxx.",
    ),
]


def _rules(repository: str) -> str:
    return f"/repositories/{name_path(repository)}/-/access-rules"


@access_rules.command("add")
@common_options()
def add_access_rule(
    options: Globals,
    repository: Repository,
    principal: Annotated[
        str | None,
        typer.Argument(
            metavar="[PRINCIPAL]",
            help="user:NAME, api-client:ID or public; or just NAME (a user) or cli-xxxxx. "
            "Not with --new-api-client.",
            show_default=False,
        ),
    ] = None,
    new_api_client: Annotated[
        str | None,
        typer.Option(
            "--new-api-client",
            metavar="DESCRIPTION",
            help="Create an API client (described so) and give it this rule; its secret "
            "is printed once, in -o's form.",
            show_default=False,
        ),
    ] = None,
    registry: RegistryOption = None,
    secret_name: SecretNameOption = None,
    format: SecretFormatOption = None,
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
) -> None:
    """Let PRINCIPAL pull (push, delete) REPOSITORY and the images below it; replaces its
    previous rule there.

    With --new-api-client instead of PRINCIPAL, a new API client gets the rule (pull by
    default), as Brightbox's "Add Access Rule" does, and its credentials are printed at
    once: -o docker-config, k8s-secret or env, or the rule with the client (json, yaml).
    regctl repositories access-rules add acc-x/myapp --new-api-client deploy -o
    k8s-secret | kubectl apply -f -.
    """
    wanted = comma_list(actions) or ["pull"]
    if (principal is None) == (new_api_client is None):
        raise UsageError("name a PRINCIPAL or give --new-api-client DESCRIPTION (one of them)")
    if principal is not None:
        if format is not None and format.value not in {f.value for f in Format}:
            raise UsageError(f"-o {format.value} is for --new-api-client's credentials")
        body = {"principal": principal_ref(principal), "actions": wanted}
        chosen = Format(format.value) if format is not None else noun_format(options)
        emit(call(options, "POST", _rules(repository), body), chosen)
        return
    with connect(options) as api:
        made = api.call(
            "POST", _rules(repository), {"new-api-client": new_api_client, "actions": wanted}
        )
        server_url = api.target.server
    client = made["api-client"]
    say(f"created API client {client['id']}: its secret is shown once, keep it now")
    fmt = format or secret_default(options)
    emit_credentials(options, fmt, client, server_url, registry, secret_name, whole=made)


@access_rules.command("list")
@common_options()
def list_access_rules(options: Globals, repository: Repository) -> None:
    """List REPOSITORY's access rules (needs admin there: its owner or a registry admin)."""
    noun_list(options, _rules(repository), RULE_COLUMNS, empty=f"{repository} has no access rules")


@access_rules.command("remove")
@common_options(format=False)
def remove_access_rule(options: Globals, repository: Repository, principal: RulePrincipal) -> None:
    """Remove PRINCIPAL's access rule from REPOSITORY."""
    reference = principal_ref(principal)
    done = f"removed the access rule of {reference} from {repository}"
    noun_delete(options, f"{_rules(repository)}/{segment(reference)}", done)
