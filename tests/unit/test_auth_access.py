"""``AccessController``: the one access decision, credential checks and registry tokens,
against a real SQLite database (no HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from regd.auth.access import REGISTRY, REPOSITORY, VAULT, AccessController, Resource, jwt_grants
from regd.auth.capabilities import ADMIN, DELETE, PULL, PUSH, STRONGBOX_READ
from regd.auth.grants import Grants
from regd.auth.identities import Identities
from regd.auth.principals import ANONYMOUS, Principal
from regd.auth.signing import SigningKeys
from regd.auth.tokens import Tokens
from regd.db import connect, upgrade
from regd.db.engine import sqlite_url
from regd.strongbox.crypto import MasterKeys
from regd.strongbox.records import agree
from regd.strongbox.sealed_keys import SealedKeyStore

Scenario = Callable[[AccessController], Awaitable[None]]


def _run(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        database = connect(sqlite_url(tmp_path / "regd.db"))
        await upgrade(database)
        master = MasterKeys(tmp_path / "keys")
        await agree(database, master)
        keys = SigningKeys(SealedKeyStore(database, master))
        await keys.load()
        identities = Identities(database)
        access = AccessController(
            identities, Tokens(database), Grants(database, identities), keys, "regd"
        )
        try:
            await scenario(access)
        finally:
            await database.close()

    asyncio.run(main())


def _repo(name: str) -> Resource:
    return Resource(REPOSITORY, name)


ALICE = Principal("user", "alice")


def test_deny_by_default_and_anonymous_pulls_public_repositories_only(tmp_path: Path) -> None:
    async def scenario(access: AccessController) -> None:
        await access.identities.create_user("alice", "alice-password")
        for principal in (ALICE, ANONYMOUS):
            for action in (PULL, PUSH, DELETE, ADMIN):
                assert not await access.authorize(principal, _repo("team/app"), action)
            assert not await access.authorize(principal, Resource(REGISTRY), ADMIN)
        await access.grants.set_access_rule("pub/app", "public", "", [PULL])
        assert await access.authorize(ANONYMOUS, _repo("pub/app"), PULL)
        assert not await access.authorize(ANONYMOUS, _repo("pub/app"), PUSH)
        # A rule covers the images below its repository (docs/security.md), not its siblings.
        assert await access.authorize(ANONYMOUS, _repo("pub/app/below"), PULL)
        assert not await access.authorize(ANONYMOUS, _repo("pub/app/below"), PUSH)
        assert not await access.authorize(ANONYMOUS, _repo("pub/application"), PULL)
        assert not await access.authorize(ANONYMOUS, _repo("pub"), PULL)
        assert await access.authorize(ALICE, _repo("pub/app"), PULL)
        assert not await access.authorize(ALICE, _repo("pub/app"), PUSH)

    _run(tmp_path, scenario)


def test_a_token_never_does_more_than_its_policies_and_its_owner(tmp_path: Path) -> None:
    async def scenario(access: AccessController) -> None:
        await access.identities.create_user("alice", "alice-password")
        await access.grants.bind_policy("registry-pull", "user", "alice")
        pushing = Principal("user", "alice", token_id="t1", token_policies=("registry-push",))
        assert await access.authorize(pushing, _repo("team/app"), PULL)
        assert not await access.authorize(pushing, _repo("team/app"), PUSH)  # alice may not
        nothing = Principal("user", "alice", token_id="t2", token_policies=())
        assert not await access.authorize(nothing, _repo("team/app"), PULL)

        admin = Principal("user", "admin", admin=True)
        limited_admin = Principal("user", "admin", True, "t3", ("registry-pull",))
        assert await access.authorize(admin, _repo("team/app"), DELETE)
        assert await access.authorize(admin, Resource(REGISTRY), ADMIN)
        assert await access.authorize(limited_admin, _repo("team/app"), PULL)
        assert not await access.authorize(limited_admin, _repo("team/app"), PUSH)
        assert not await access.authorize(limited_admin, Resource(REGISTRY), ADMIN)
        assert not await access.is_registry_admin(limited_admin)

    _run(tmp_path, scenario)


def test_the_registry_itself_needs_a_grant_over_everything(tmp_path: Path) -> None:
    async def scenario(access: AccessController) -> None:
        await access.identities.create_user("alice", "alice-password")
        rules = [{"capabilities": [ADMIN], "repositories": ["team/*"]}]
        await access.grants.create_policy("team-admin", "", rules)
        await access.grants.bind_policy("team-admin", "user", "alice")
        assert await access.authorize(ALICE, _repo("team/app"), ADMIN)
        assert not await access.authorize(ALICE, Resource(REGISTRY), ADMIN)
        await access.grants.bind_policy("registry-admin", "user", "alice")
        assert await access.authorize(ALICE, Resource(REGISTRY), ADMIN)
        # strongbox is not part of registry-admin
        assert not await access.authorize(ALICE, Resource(VAULT, "v"), STRONGBOX_READ)

    _run(tmp_path, scenario)


def test_roles_rules_and_ownership_fold_into_grants(tmp_path: Path) -> None:
    async def scenario(access: AccessController) -> None:
        await access.identities.create_user("alice", "alice-password")
        await access.grants.bind_role("registry-viewer", "user", "alice", "team")
        assert await access.authorize(ALICE, _repo("team"), PULL)
        assert await access.authorize(ALICE, _repo("team/a/b"), PULL)
        assert not await access.authorize(ALICE, _repo("teams/app"), PULL)
        assert not await access.authorize(ALICE, _repo("team/app"), PUSH)
        await access.grants.set_access_rule("team/app", "user", "alice", [PUSH])
        assert await access.authorize(ALICE, _repo("team/app"), PUSH)
        assert not await access.authorize(ALICE, _repo("team/web"), PUSH)
        assert await access.grants.claim_namespace("mine", "alice")
        assert not await access.grants.claim_namespace("mine", "bob")
        for action in (PULL, PUSH, DELETE, ADMIN):
            assert await access.authorize(ALICE, _repo("mine/app"), action)
        await access.grants.forget_repository("mine")
        assert not await access.authorize(ALICE, _repo("mine/app"), PULL)
        await access.grants.unbind_role("registry-viewer", "user", "alice", "team")
        assert not await access.authorize(ALICE, _repo("team"), PULL)

    _run(tmp_path, scenario)


def test_basic_credentials_are_checked_by_kind(tmp_path: Path) -> None:
    async def scenario(access: AccessController) -> None:
        await access.identities.create_user("alice", "alice-password")
        client, secret = await access.identities.create_api_client("robot")
        _info, token = await access.tokens.create(ALICE, "personal", 3600)
        assert await access.authenticate_basic("alice", "alice-password", "s") == ALICE
        assert await access.authenticate_basic("alice", "wrong-password", "s") is None
        robot = await access.authenticate_basic(client.id, secret, "s")
        assert robot == Principal("api-client", client.id)
        by_token = await access.authenticate_basic("any-name", token, "s")
        assert by_token is not None
        assert (by_token.kind, by_token.id, by_token.token_id) == ("user", "alice", _info.id)
        # a token is no password, and a password no token
        assert await access.authenticate_basic("alice", token[:-1] + "x", "s") is None
        assert await access.principal_of_token("alice-password") is None

    _run(tmp_path, scenario)


def test_a_cached_basic_check_ends_when_its_token_expires(tmp_path: Path) -> None:
    async def scenario(access: AccessController) -> None:
        await access.identities.create_user("alice", "alice-password")
        _info, token = await access.tokens.create(ALICE, "personal", 3)
        # 3 s: the first check is certainly within its life, so it must pass.
        assert await access.authenticate_basic("docker", token, "s") is not None
        deadline = time.monotonic() + 10
        while await access.authenticate_basic("docker", token, "s") is not None:
            assert time.monotonic() < deadline, "still trusted past its expiry"
            await asyncio.sleep(0.05)

    _run(tmp_path, scenario)


def test_a_deleted_users_tokens_and_grants_die_with_it(tmp_path: Path) -> None:
    async def scenario(access: AccessController) -> None:
        await access.identities.create_user("alice", "alice-password")
        await access.grants.bind_policy("registry-push", "user", "alice")
        await access.grants.bind_role("registry-editor", "user", "alice", "team")
        await access.grants.set_access_rule("x/app", "user", "alice", [DELETE])
        await access.grants.claim_namespace("mine", "alice")
        _info, token = await access.tokens.create(ALICE, "personal", 3600)
        await access.identities.delete_user("alice")
        access.forget_credentials()
        await access.identities.create_user("alice", "another-password")
        assert await access.principal_of_token(token) is None
        assert await access.grants.bound_policies("user", "alice") == []
        assert await access.grants.role_bindings() == []
        assert await access.grants.access_rules("x/app") == []
        assert await access.grants.owner_of("mine") is None
        assert await access.grants.grants_of(ALICE) == []

    _run(tmp_path, scenario)


def test_a_registry_token_carries_its_principal_and_grants(tmp_path: Path) -> None:
    async def scenario(access: AccessController) -> None:
        limited = Principal("user", "alice", False, "t1", ("registry-pull",))
        granted = [{"type": "repository", "name": "team/app", "actions": ["pull"]}]
        token, _issued = await access.issue(limited, granted, 300)
        verified = await access.verify_jwt(token)
        assert verified is not None
        principal, claims = verified
        assert principal == limited
        assert jwt_grants(claims, "repository", "team/app") == {"pull"}
        assert jwt_grants(claims, "repository", "team/web") == set()
        admin, _ = await access.issue(Principal("user", "admin", admin=True), [], 300)
        assert await access.verify_jwt(admin) is not None
        assert (await access.verify_jwt(admin))[0].admin  # type: ignore[index]
        assert await access.verify_jwt(token[:-4] + "AAAA") is None
        expired, _ = await access.issue(limited, granted, -60)
        assert await access.verify_jwt(expired) is None

    _run(tmp_path, scenario)
