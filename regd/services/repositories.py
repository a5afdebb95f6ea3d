"""Creating and deleting a repository together with who may use it, in one transaction."""

from __future__ import annotations

from regd.auth.grants import Grants
from regd.errors import ErrorKind, RequestError
from regd.registry import Registry
from regd.registry.inventory import RepositorySummary


async def create_repository(
    registry: Registry, grants: Grants, name: str, owner: str | None
) -> RepositorySummary:
    """An empty repository, owned by ``owner`` (a user) when given; CONFLICT when it exists
    or has repositories below it (its owner would own them too: they are someone else's)."""
    async with registry.db.write() as conn:
        if await registry.inventory.has_below(conn, name):
            raise RequestError(
                ErrorKind.CONFLICT,
                f"repositories exist below {name!r}: it cannot be created and owned",
            )
        repository_id = await registry.inventory.add_repository(conn, name)
        if repository_id is None:
            raise RequestError(ErrorKind.CONFLICT, f"repository {name!r} exists")
        claimed = owner is not None and await grants.claim_namespace_in(conn, name, owner)
    registry.inventory.added(name, repository_id)
    if claimed:
        grants.invalidate()
    return await registry.inventory.repository(name)


async def delete_repository(registry: Registry, grants: Grants, name: str) -> None:
    """A repository with its tags, manifests and blob links, and its access rules and
    owner: a repository created later under this name starts without either."""
    async with registry.db.write() as conn:
        repository_id = await registry.inventory.remove_repository(conn, name)
        await grants.forget_repository_in(conn, name)
    registry.inventory.removed(name, repository_id)
    grants.invalidate()
