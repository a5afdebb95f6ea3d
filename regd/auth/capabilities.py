"""Capabilities, built-in policies and roles, and repository-glob matching."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

PULL: Final = "pull"
PUSH: Final = "push"
DELETE: Final = "delete"
#: Manage a repository's access rules (and, over ``*``, the registry's identities).
ADMIN: Final = "admin"
STRONGBOX_READ: Final = "strongbox-read"
STRONGBOX_WRITE: Final = "strongbox-write"
CAPABILITIES: Final = frozenset({PULL, PUSH, DELETE, ADMIN, STRONGBOX_READ, STRONGBOX_WRITE})
#: What an access rule may grant; ``public`` rules may grant only pull.
RULE_ACTIONS: Final = frozenset({PULL, PUSH, DELETE})


@dataclass(frozen=True, slots=True)
class Grant:
    """Capabilities over resources whose names match any of the globs (``*`` spans ``/``)."""

    capabilities: frozenset[str]
    globs: tuple[str, ...]

    def allows(self, name: str, action: str) -> bool:
        return action in self.capabilities and any(fnmatchcase(name, glob) for glob in self.globs)


def grant(capabilities: Iterable[str], globs: Iterable[str]) -> Grant:
    return Grant(frozenset(capabilities), tuple(globs))


def namespace_globs(namespace: str) -> tuple[str, ...]:
    """The repository itself and everything below it."""
    namespace = namespace.strip("/")
    return (namespace, namespace + "/*")


#: Built-in policies (Avassa-style names), over every repository.
BUILTIN_POLICIES: Final[dict[str, tuple[str, frozenset[str]]]] = {
    "registry-pull": ("pull any repository", frozenset({PULL})),
    "registry-push": ("pull and push any repository", frozenset({PULL, PUSH})),
    "registry-delete": ("pull and delete in any repository", frozenset({PULL, DELETE})),
    "registry-admin": (
        "everything on every repository, including access rules",
        frozenset({PULL, PUSH, DELETE, ADMIN}),
    ),
    "strongbox-read": ("read Strongbox secret values", frozenset({STRONGBOX_READ})),
    "strongbox-write": (
        "read and write Strongbox secrets",
        frozenset({STRONGBOX_READ, STRONGBOX_WRITE}),
    ),
}

#: OpenShift-style roles, bound on a namespace prefix.
ROLES: Final[dict[str, tuple[str, frozenset[str]]]] = {
    "registry-viewer": ("pull images in the namespace", frozenset({PULL})),
    "registry-editor": ("pull and push images in the namespace", frozenset({PULL, PUSH})),
}


def builtin_policy(name: str) -> list[Grant] | None:
    found = BUILTIN_POLICIES.get(name)
    return None if found is None else [Grant(found[1], ("*",))]
