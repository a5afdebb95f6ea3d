"""Remote registries and the image-registry settings; mapping repository names to upstreams.

A repository name whose first component is a remote's ``name`` (an alias, by default
its address with ``:`` turned into ``-``) or its ``address`` is served from that remote;
the rest of the name is the upstream path. A name that matches no local repository and
no remote goes to ``default-remote-registry`` (single-component names get Docker Hub's
``library/``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import sqlalchemy as sa

from regd.caching import Cache
from regd.db import Database
from regd.db.generation import Generation
from regd.db.schema import registry_settings, remote_registries
from regd.db.sql import REMOTES_GENERATION, bump_generation
from regd.errors import ErrorKind, RequestError
from regd.registry.errors import RegistryError
from regd.registry.names import validate_name
from regd.strongbox.vaults import StrongboxError, Vaults

DOCKER_HUB = frozenset({"docker.io", "registry-1.docker.io", "index.docker.io"})
_ADDRESS = re.compile(r"(?:https?://)?[A-Za-z0-9.-]+(?::\d+)?")
SETTINGS_DEFAULTS: dict[str, Any] = {
    "default-remote-registry": None,
    "tag-ttl": 300,
    "cache-size-cap": None,
}


class RemoteError(RequestError):
    """A remote-registry request that cannot be done (by its ErrorKind)."""


@dataclass(frozen=True, slots=True)
class Credential:
    repository: str
    vault: str
    secret: str


@dataclass(frozen=True, slots=True)
class RemoteRegistry:
    address: str
    name: str
    override_address: str | None = None
    ca_cert: str | None = None
    credentials: tuple[Credential, ...] = field(default_factory=tuple)
    created_at: float = 0.0

    @property
    def base_url(self) -> str:
        """Where to connect: ``override-address`` if set (a scheme in it is honoured)."""
        target = self.override_address or (
            "registry-1.docker.io" if self.address in DOCKER_HUB else self.address
        )
        return target if target.startswith(("http://", "https://")) else f"https://{target}"

    def credential_for(self, upstream_path: str) -> Credential | None:
        """The matching entry whose glob is most specific (most literal characters)."""
        matching = [c for c in self.credentials if fnmatchcase(upstream_path, c.repository)]
        if not matching:
            return None
        return max(matching, key=lambda c: len(c.repository.replace("*", "").replace("?", "")))


@dataclass(frozen=True, slots=True)
class Target:
    """Where a repository name's content comes from."""

    remote: RemoteRegistry
    upstream_path: str
    #: The local repository the cached content lives in.
    cache_name: str
    #: Reached through ``default-remote-registry`` (not a remote's prefix, not ``?ns=``):
    #: the name may as well be a new local one being pushed.
    fallback: bool = False


def default_alias(address: str) -> str:
    bare = re.sub(r"^https?://", "", address).lower()
    return bare.replace(":", "-")


class Remotes:
    def __init__(self, db: Database, vaults: Vaults) -> None:
        self._db = db
        self._vaults = vaults
        # The remote registries and the settings, each with the ``remotes`` generation it
        # was read at (PostgreSQL: another replica's change is seen on the next request).
        self._generation = Generation(db, REMOTES_GENERATION)
        self._cache: Cache[None, list[RemoteRegistry]] = Cache(1)
        self._settings: Cache[None, dict[str, Any]] = Cache(1)

    # -- remote registries ---------------------------------------------------

    async def all(self) -> list[RemoteRegistry]:
        async def read() -> list[RemoteRegistry]:
            async with self._db.read() as conn:
                rows = (
                    await conn.execute(
                        sa.select(remote_registries).order_by(remote_registries.c.address)
                    )
                ).all()
            return [_remote(row) for row in rows]

        return await self._cache.get_or_read(None, await self._generation.current(), read)

    async def get(self, address: str) -> RemoteRegistry:
        for remote in await self.all():
            if address in (remote.address, remote.name):
                return remote
        raise RemoteError(ErrorKind.NOT_FOUND, f"no remote registry {address!r}")

    async def put(self, body: dict[str, Any], create_only: bool) -> RemoteRegistry:
        remote = await self._validate(body)
        async with self._db.write() as conn:
            exists = await conn.scalar(
                sa.select(remote_registries.c.address).where(
                    remote_registries.c.address == remote.address
                )
            )
            if exists and create_only:
                raise RemoteError(ErrorKind.CONFLICT, f"remote registry {remote.address!r} exists")
            clash = await conn.scalar(
                sa.select(remote_registries.c.address)
                .where(remote_registries.c.name == remote.name)
                .where(remote_registries.c.address != remote.address)
            )
            if clash:
                raise RemoteError(
                    ErrorKind.CONFLICT, f"the name {remote.name!r} is taken by {clash!r}"
                )
            values = {
                "name": remote.name,
                "override_address": remote.override_address,
                "ca_cert": remote.ca_cert,
                "credentials": [
                    {"repository": c.repository, "vault": c.vault, "secret": c.secret}
                    for c in remote.credentials
                ],
            }
            if exists:
                await conn.execute(
                    sa.update(remote_registries)
                    .where(remote_registries.c.address == remote.address)
                    .values(**values)
                )
            else:
                await conn.execute(
                    sa.insert(remote_registries).values(
                        address=remote.address, created_at=time.time(), **values
                    )
                )
            await bump_generation(conn, REMOTES_GENERATION)
        self._cache.clear()
        return await self.get(remote.address)

    async def delete(self, address: str) -> None:
        remote = await self.get(address)
        async with self._db.write() as conn:
            await conn.execute(
                sa.delete(remote_registries).where(remote_registries.c.address == remote.address)
            )
            await bump_generation(conn, REMOTES_GENERATION)
        self._cache.clear()

    async def _validate(self, body: dict[str, Any]) -> RemoteRegistry:
        address = body.get("address")
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise RemoteError(
                ErrorKind.INVALID, "address is a registry host, with an optional :port"
            )
        name = body.get("name") or default_alias(address)
        try:
            validate_name(name)
        except (RegistryError, TypeError):
            raise RemoteError(
                ErrorKind.INVALID, f"name {name!r} is not a valid repository-name component"
            ) from None
        if "/" in name:
            raise RemoteError(
                ErrorKind.INVALID, "a remote's name is one repository-name component (no /)"
            )
        override = body.get("override-address")
        if override is not None and (
            not isinstance(override, str) or not _ADDRESS.fullmatch(override)
        ):
            raise RemoteError(
                ErrorKind.INVALID,
                "override-address is a host[:port], optionally with http:// or https://",
            )
        ca_cert = body.get("ca-cert")
        if ca_cert is not None and (
            not isinstance(ca_cert, str) or "BEGIN CERTIFICATE" not in ca_cert
        ):
            raise RemoteError(ErrorKind.INVALID, "ca-cert is a PEM certificate")
        raw = body.get("credentials") or []
        if not isinstance(raw, list):
            raise RemoteError(
                ErrorKind.INVALID, "credentials is a list of {repository, vault, secret}"
            )
        credentials = []
        for entry in raw:
            if not isinstance(entry, dict) or not all(
                isinstance(entry.get(key), str) and entry.get(key) for key in ("vault", "secret")
            ):
                raise RemoteError(
                    ErrorKind.INVALID, "each credentials entry names a vault and a secret"
                )
            repository = entry.get("repository", "*")
            if not isinstance(repository, str) or not repository:
                raise RemoteError(
                    ErrorKind.INVALID, "credentials[].repository is a glob such as '*'"
                )
            try:
                await self._vaults.secret(entry["vault"], entry["secret"])
            except StrongboxError as missing:
                raise RemoteError(
                    ErrorKind.INVALID, f"credentials refer to a missing secret: {missing.message}"
                ) from None
            credentials.append(Credential(repository, entry["vault"], entry["secret"]))
        return RemoteRegistry(address, name, override, ca_cert, tuple(credentials))

    # -- settings ------------------------------------------------------------

    async def settings(self) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            async with self._db.read() as conn:
                rows = (await conn.execute(sa.select(registry_settings))).all()
            return {**SETTINGS_DEFAULTS, **{row.key: row.value for row in rows}}

        generation = await self._generation.current()
        return dict(await self._settings.get_or_read(None, generation, read))

    async def update_settings(self, changes: dict[str, Any], replace: bool) -> dict[str, Any]:
        unknown = set(changes) - set(SETTINGS_DEFAULTS)
        if unknown:
            raise RemoteError(ErrorKind.INVALID, f"unknown settings: {', '.join(sorted(unknown))}")
        default = changes.get("default-remote-registry")
        if default is not None and (
            not isinstance(default, str) or not _ADDRESS.fullmatch(default)
        ):
            raise RemoteError(ErrorKind.INVALID, "default-remote-registry is a registry address")
        for key, nullable in (("tag-ttl", False), ("cache-size-cap", True)):
            if key not in changes or (nullable and changes[key] is None):
                continue
            value = changes[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RemoteError(ErrorKind.INVALID, f"{key} is a non-negative integer")
        merged = dict(SETTINGS_DEFAULTS) if replace else await self.settings()
        merged.update(changes)
        async with self._db.write() as conn:
            await conn.execute(sa.delete(registry_settings))
            await conn.execute(
                sa.insert(registry_settings),
                [{"key": key, "value": value} for key, value in merged.items()],
            )
            await bump_generation(conn, REMOTES_GENERATION)
        self._settings.clear()
        return await self.settings()

    # -- names ---------------------------------------------------------------

    async def mirrored(self, name: str) -> Target | None:
        """The remote whose prefix ``name`` carries, if any (pushes there are refused)."""
        first, _, rest = name.partition("/")
        if not rest:
            return None
        for remote in await self.all():
            if first in (remote.name, remote.address):
                return Target(remote, rest, f"{remote.name}/{rest}")
        return None

    async def registry_target(self, registry: str, name: str) -> Target | None:
        """Where ``name`` of registry ``registry`` comes from: containerd's ``?ns=`` on a
        mirror request. The remote with that address (or alias; any Docker Hub address for
        another), else the default remote when it is that registry; None: none is."""
        hub = registry in DOCKER_HUB
        found = None
        for remote in await self.all():
            if registry in (remote.address, remote.name) or (hub and remote.address in DOCKER_HUB):
                found = remote
                break
        if found is None:
            default = (await self.settings()).get("default-remote-registry")
            if not default or (default != registry and not (hub and default in DOCKER_HUB)):
                return None
            found = RemoteRegistry(default, default_alias(default))
        upstream = f"library/{name}" if found.address in DOCKER_HUB and "/" not in name else name
        return Target(found, upstream, f"{found.name}/{upstream}")

    async def default_target(self, name: str) -> Target | None:
        """Where an otherwise unknown name is pulled from (``default-remote-registry``)."""
        address = (await self.settings()).get("default-remote-registry")
        if not address:
            return None
        try:
            remote = await self.get(address)
        except RemoteError:
            remote = RemoteRegistry(address, default_alias(address))
        upstream = name
        if remote.address in DOCKER_HUB and "/" not in name:
            upstream = f"library/{name}"
        return Target(remote, upstream, f"{remote.name}/{upstream}", fallback=True)


def _remote(row: Any) -> RemoteRegistry:
    return RemoteRegistry(
        row.address,
        row.name,
        row.override_address,
        row.ca_cert,
        tuple(
            Credential(c.get("repository", "*"), c["vault"], c["secret"])
            for c in row.credentials or []
        ),
        row.created_at,
    )
