"""Identities over real HTTP: users, API clients, tokens, policies, role bindings, access
rules and repository ownership, and what each of them lets a principal do on /v2/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from tests.support.identities import (
    assert_problem,
    assert_v2_denied,
    assert_v2_unauthorized,
    bearer_client,
    bind_policy,
    create_api_client,
    create_token,
    create_user,
    set_access_rule,
)
from tests.support.oci import push_image, push_manifest
from tests.support.server import RegdProcess, start_regd
from tests.support.waiting import wait_until

pytestmark = pytest.mark.xdist_group("identity-api")

BUILTIN_POLICIES = {
    "registry-pull",
    "registry-push",
    "registry-delete",
    "registry-admin",
    "strongbox-read",
    "strongbox-write",
}


@pytest.fixture(scope="session")
def ids(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    """A regd of this module's own: its failed logins must not slow down other modules.
    (Session scope: one regd even when xdist runs other modules' tests in between.)"""
    server = start_regd(tmp_path_factory.mktemp("identity-api"))
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture(scope="session")
def admin_token(ids: RegdProcess) -> str:
    with ids.client() as admin:
        return create_token(admin, "1h", name="identity tests")[1]


@pytest.fixture
def admin(ids: RegdProcess, admin_token: str) -> Iterator[httpx.Client]:
    """The admin, through a personal token: tests here change passwords and revoke
    things, which drops every cached password check; a token costs no argon2 again."""
    with bearer_client(ids, admin_token) as client:
        yield client


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _user(ids: RegdProcess, admin: httpx.Client, name: str, **kwargs: list[str]) -> httpx.Client:
    """A new user (password ``NAME-password``) and a client acting as it, through an
    unlimited personal token it made with its password."""
    password = f"{name}-password"
    create_user(admin, name, password, kwargs.get("policies"))
    with ids.client((name, password)) as basic:
        _accessor, token = create_token(basic, "1h", name="tests")
    return bearer_client(ids, token)


# -- users ---------------------------------------------------------------------------------


def test_users_are_created_listed_and_deleted_by_admins_only(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    made = create_user(admin, "id-carol", "carol-password", ["registry-pull"])
    assert made["name"] == "id-carol"
    assert made["admin"] is False
    assert made["policies"] == ["registry-pull"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", made["created-at"])
    assert "password" not in made
    assert "carol-password" not in str(made)
    assert "id-carol" in [user["name"] for user in admin.get("/api/v1/users").json()]
    assert admin.get("/api/v1/users/id-carol").json()["name"] == "id-carol"
    assert_problem(admin.post("/api/v1/users", json={"name": "id-carol", "password": "x" * 8}), 409)
    assert_problem(admin.post("/api/v1/users", json={"name": "Id Carol", "password": "x" * 8}), 400)
    # a name that reads as an API client id would be ambiguous in Basic credentials
    assert_problem(
        admin.post("/api/v1/users", json={"name": "cli-ab12c", "password": "x" * 8}), 400
    )
    assert_problem(admin.post("/api/v1/users", json={"name": "id-nopassword"}), 400)

    with _user(ids, admin, "id-dan") as dan:
        assert_problem(dan.get("/api/v1/users"), 403)
        assert_problem(dan.post("/api/v1/users", json={"name": "id-x", "password": "x" * 8}), 403)
        assert_problem(dan.get("/api/v1/users/id-carol"), 403)
        assert_problem(dan.patch("/api/v1/users/id-carol", json={"password": "y" * 8}), 403)
        assert_problem(dan.delete("/api/v1/users/id-carol"), 403)
        assert_problem(dan.get("/api/v1/users/no-such-user"), 403)

    with ids.client(("id-carol", "carol-password")) as carol:
        assert carol.get("/api/v1/users/id-carol").status_code == 200
        assert admin.delete("/api/v1/users/id-carol").status_code == 204
        assert_problem(carol.get("/api/v1/users/id-carol"), 401)
    assert_problem(admin.get("/api/v1/users/id-carol"), 404)
    assert_problem(admin.delete("/api/v1/users/id-carol"), 404)


def test_a_user_shows_itself_and_changes_its_own_password(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    create_user(admin, "id-erin", "id-erin-password")
    with ids.client(("id-erin", "id-erin-password")) as erin:
        shown = erin.get("/api/v1/users/id-erin")
        assert shown.status_code == 200
        assert shown.json()["name"] == "id-erin"
        assert_problem(erin.patch("/api/v1/users/id-erin", json={"password": "seven77"}), 400)
        changed = erin.patch("/api/v1/users/id-erin", json={"password": "erin-new-password"})
        assert changed.status_code == 200, changed.text
        old = erin.get("/api/v1/users/id-erin")  # the old password, a moment ago trusted
        assert_problem(old, 401)
        assert old.headers["WWW-Authenticate"]
    with ids.client(("id-erin", "erin-new-password")) as erin:
        assert erin.get("/api/v1/users/id-erin").status_code == 200
        assert erin.get("/v2/").status_code == 200
    # an admin may set anyone's password
    assert (
        admin.patch("/api/v1/users/id-erin", json={"password": "set-by-admin"}).status_code == 200
    )
    with ids.client(("id-erin", "set-by-admin")) as erin:
        assert erin.get("/api/v1/users/id-erin").status_code == 200


def test_a_password_has_at_least_eight_characters(admin: httpx.Client) -> None:
    short = admin.post("/api/v1/users", json={"name": "id-short", "password": "1234567"})
    assert "8" in assert_problem(short, 400)["detail"]
    assert "1234567" not in short.text
    create_user(admin, "id-short", "12345678")


def test_the_admin_user_cannot_be_deleted(admin: httpx.Client) -> None:
    assert_problem(admin.delete("/api/v1/users/admin"), 409)
    assert admin.get("/api/v1/users/admin").json()["admin"] is True


def test_a_new_user_does_not_inherit_a_deleted_users_tokens_or_grants(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    with _user(ids, admin, "id-frank", policies=["registry-push"]) as frank:
        _accessor, token = create_token(frank, "1h")
    push_image(admin, "id/frank/app", "1.0", seed="id-frank")
    made = set_access_rule(admin, "id/frank/app", "user:id-frank", ["pull", "push", "delete"])
    assert made.status_code == 201, made.text
    with bearer_client(ids, token) as old_token:
        assert old_token.get("/api/v1/tokens").status_code == 200
        assert admin.delete("/api/v1/users/id-frank").status_code == 204
        assert_problem(old_token.get("/api/v1/tokens"), 401)
        # Someone else, who happens to get the same name later:
        with _user(ids, admin, "id-frank") as new_frank:
            assert_problem(old_token.get("/api/v1/tokens"), 401)
            assert new_frank.get("/api/v1/users/id-frank").json()["policies"] == []
            assert [t["name"] for t in new_frank.get("/api/v1/tokens").json()] == ["tests"]
            assert_v2_denied(new_frank.post("/v2/id/frank/app/blobs/uploads/"))
            assert_v2_denied(new_frank.post("/v2/id/elsewhere/blobs/uploads/"))


# -- API clients ---------------------------------------------------------------------------


def test_an_api_client_secret_is_shown_once_and_can_be_reset(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    push_image(admin, "id/robot/app", "1.0", seed="id-robot")
    grants = [{"capabilities": ["pull"], "repositories": ["id/robot/*"]}]
    made = admin.post("/api/v1/api-clients", json={"description": "ci", "grants": grants})
    assert made.status_code == 201, made.text
    client_id, secret = made.json()["id"], made.json()["secret"]
    assert re.fullmatch(r"cli-[a-z0-9]{5}", client_id)
    assert len(secret) >= 20
    assert made.json()["expires-at"] is None
    shown = admin.get(f"/api/v1/api-clients/{client_id}")
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert secret not in shown.text
    listing = admin.get("/api/v1/api-clients")
    assert client_id in [c["id"] for c in listing.json()]
    assert secret not in listing.text
    assert all("secret" not in c for c in listing.json())

    with ids.client((client_id, secret)) as robot:
        assert robot.get("/v2/id/robot/app/manifests/1.0").status_code == 200
        # pull-only: granted nothing else
        assert_v2_denied(robot.post("/v2/id/robot/app/blobs/uploads/"))
        assert_v2_denied(robot.get("/v2/id/other/app/tags/list"))
        reset = admin.post(f"/api/v1/api-clients/{client_id}/reset-secret")
        assert reset.status_code == 200
        new_secret = reset.json()["secret"]
        assert new_secret != secret
        assert_v2_unauthorized(robot.get("/v2/id/robot/app/manifests/1.0"))
    with ids.client((client_id, new_secret)) as robot:
        assert robot.get("/v2/id/robot/app/manifests/1.0").status_code == 200
    assert new_secret not in admin.get(f"/api/v1/api-clients/{client_id}").text


def test_an_api_client_expires(ids: RegdProcess, admin: httpx.Client) -> None:
    assert_problem(admin.post("/api/v1/api-clients", json={"ttl": "soon"}), 400)
    body = admin.post("/api/v1/api-clients", json={"ttl": "5s"}).json()
    assert _seconds(body["expires-at"]) - _seconds(body["created-at"]) <= 6
    with ids.client((body["id"], body["secret"])) as robot:
        # 5 s: the first use is certainly within its life, so it must work (no clock excuse).
        assert robot.get("/v2/").status_code == 200, "a fresh API client must work"
        # Trusted a moment ago (and cached), yet refused as soon as it expires.
        wait_until(lambda: robot.get("/v2/").status_code == 401, 20, "the API client expires")


def test_api_clients_belong_to_their_maker_who_grants_no_more_than_it_holds(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    with _user(ids, admin, "id-gina") as gina, _user(ids, admin, "id-hank") as hank:
        robot_id, _secret = create_api_client(gina, description="gina's")
        assert gina.get(f"/api/v1/api-clients/{robot_id}").json()["owner"] == "id-gina"
        assert [c["id"] for c in gina.get("/api/v1/api-clients").json()] == [robot_id]
        assert robot_id in [c["id"] for c in admin.get("/api/v1/api-clients").json()]
        assert hank.get("/api/v1/api-clients").json() == []
        assert_problem(hank.get(f"/api/v1/api-clients/{robot_id}"), 404)
        assert_problem(hank.post(f"/api/v1/api-clients/{robot_id}/reset-secret"), 404)
        assert_problem(hank.delete(f"/api/v1/api-clients/{robot_id}"), 404)
        grants = [{"capabilities": ["pull"], "repositories": ["id/*"]}]
        assert_problem(gina.post("/api/v1/api-clients", json={"grants": grants}), 403)
        role = {"namespace": "id/gina", "role": "registry-editor"}
        assert_problem(gina.post("/api/v1/api-clients", json=role), 403)
        assert gina.delete(f"/api/v1/api-clients/{robot_id}").status_code == 204
        assert_problem(admin.get(f"/api/v1/api-clients/{robot_id}"), 404)


# -- tokens --------------------------------------------------------------------------------


def test_a_token_value_is_shown_once_and_listed_without_it(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    create_user(admin, "id-ivy", "id-ivy-password")
    with ids.client(("id-ivy", "id-ivy-password")) as ivy:
        made = ivy.post("/api/v1/tokens", json={"name": "laptop", "ttl": "4h"})
        assert made.status_code == 201, made.text
        body = made.json()
        value = body["token"]
        assert value.startswith("regd_")
        assert body["principal"] == "user:id-ivy"
        assert body["name"] == "laptop"
        assert body["revoked-at"] is None
        assert abs(_seconds(body["expires-at"]) - (time.time() + 4 * 3600)) < 120
        listing = ivy.get("/api/v1/tokens")
        assert [t["id"] for t in listing.json()] == [body["id"]]
        assert value not in listing.text
        assert "token" not in listing.json()[0]
        shown = ivy.get(f"/api/v1/tokens/{body['id']}")
        assert shown.status_code == 200
        assert value not in shown.text
        # another user's token is not there at all; admins list everyone's with ?all=true
        with _user(ids, admin, "id-jack") as jack:
            assert_problem(jack.get(f"/api/v1/tokens/{body['id']}"), 404)
            assert_problem(jack.delete(f"/api/v1/tokens/{body['id']}"), 404)
        everyone = admin.get("/api/v1/tokens", params={"all": "true"})
        assert body["id"] in [t["id"] for t in everyone.json()]
        assert value not in everyone.text


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [("4h", 4 * 3600), ("30m", 1800), ("1y2d5h", 365 * 86400 + 2 * 86400 + 5 * 3600)],
)
def test_token_ttl_is_parsed(admin: httpx.Client, ttl: str, seconds: int) -> None:
    body = admin.post("/api/v1/tokens", json={"ttl": ttl}).json()
    assert abs(_seconds(body["expires-at"]) - _seconds(body["created-at"]) - seconds) <= 1


@pytest.mark.parametrize("ttl", [None, "", "0", "0h", "forever", "4 hours", "-1h", "11y", "1h30"])
def test_an_unlimited_or_unreadable_ttl_is_refused(admin: httpx.Client, ttl: str | None) -> None:
    body = {"name": "refused"} if ttl is None else {"name": "refused", "ttl": ttl}
    assert_problem(admin.post("/api/v1/tokens", json=body), 400)
    assert_problem(admin.post("/api/v1/strongbox/token/create-token", json=body), 400)


def test_revoking_a_token_takes_effect_at_once(ids: RegdProcess, admin: httpx.Client) -> None:
    push_image(admin, "id/revoke/app", "1.0", seed="id-revoke")
    with _user(ids, admin, "id-kate") as kate:
        accessor, token = create_token(kate, "1h")
    assert set_access_rule(admin, "id/revoke/app", "user:id-kate", ["pull"]).status_code == 201
    with (
        ids.client(("docker", token)) as basic,  # docker login with a token
        bearer_client(ids, token) as bearer,
    ):
        # Both trusted (and the Basic check cached) before the revocation...
        assert basic.get("/v2/id/revoke/app/manifests/1.0").status_code == 200
        assert bearer.get("/v2/id/revoke/app/manifests/1.0").status_code == 200
        assert bearer.get("/api/v1/tokens").status_code == 200
        assert bearer.delete(f"/api/v1/tokens/{accessor}").status_code == 204
        # ...and refused right after it.
        assert_v2_unauthorized(basic.get("/v2/id/revoke/app/manifests/1.0"))
        assert_v2_unauthorized(bearer.get("/v2/id/revoke/app/manifests/1.0"))
        assert_problem(bearer.get("/api/v1/tokens"), 401)
    with ids.client(("id-kate", "id-kate-password")) as kate:
        shown = kate.get(f"/api/v1/tokens/{accessor}").json()
        assert shown["revoked-at"] is not None
        assert_problem(kate.delete(f"/api/v1/tokens/{accessor}"), 404)


def test_an_expired_token_is_refused_even_right_after_it_worked(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    with _user(ids, admin, "id-lena") as lena:
        _accessor, token = create_token(lena, "5s")
    with ids.client(("docker", token)) as basic:
        assert basic.get("/v2/").status_code == 200, "a fresh token must work"
        wait_until(lambda: basic.get("/v2/").status_code == 401, 20, "the token expires")
    with bearer_client(ids, token) as bearer:
        assert_problem(bearer.get("/api/v1/tokens"), 401)


def test_a_token_limited_to_policies_cannot_take_over_its_owner(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    """A registry-pull token may neither change its owner's password, nor reset the
    secret of its owner's (more powerful) robot, nor mint a token beyond its policies."""
    with _user(ids, admin, "id-mia", policies=["registry-push"]) as mia:
        assert mia.post("/api/v1/repositories", json={"name": "id/mia/app"}).status_code == 201
        grants = [{"capabilities": ["push"], "repositories": ["id/mia/app"]}]
        robot_id, _secret = create_api_client(mia, grants=grants)
        _accessor, token = create_token(mia, "1h", policies=["registry-pull"])
    with bearer_client(ids, token) as limited:
        assert limited.get("/api/v1/users/id-mia").status_code == 200
        assert_problem(limited.patch("/api/v1/users/id-mia", json={"password": "taken-over"}), 403)
        assert_problem(limited.post(f"/api/v1/api-clients/{robot_id}/reset-secret"), 403)
        assert_v2_denied(limited.post("/v2/id/mia/app/blobs/uploads/"))
        minted = limited.post("/api/v1/tokens", json={"ttl": "1h"})
        assert minted.status_code == 201
        assert minted.json()["policies"] == ["registry-pull"]
        wider = limited.post("/api/v1/tokens", json={"ttl": "1h", "policies": ["registry-push"]})
        assert wider.status_code == 201
        assert wider.json()["policies"] == []  # what it asked for, cut down to what it holds
        with bearer_client(ids, wider.json()["token"]) as second:
            assert_v2_denied(second.post("/v2/id/mia/app/blobs/uploads/"))
            assert_v2_denied(second.get("/v2/id/mia/app/tags/list"))
    with ids.client(("id-mia", "id-mia-password")) as mia:
        assert mia.get("/api/v1/users/id-mia").status_code == 200


# -- policies and role bindings ------------------------------------------------------------


def test_builtin_policies_are_listed_and_cannot_change(admin: httpx.Client) -> None:
    policies = {p["name"]: p for p in admin.get("/api/v1/policies").json()}
    assert set(policies) >= BUILTIN_POLICIES
    assert all(policies[name]["builtin"] for name in BUILTIN_POLICIES)
    assert policies["registry-push"]["rules"] == [
        {"capabilities": ["pull", "push"], "repositories": ["*"]}
    ]
    for name in BUILTIN_POLICIES:
        assert_problem(admin.delete(f"/api/v1/policies/{name}"), 409)
        rules = [{"capabilities": ["pull"], "repositories": ["x"]}]
        assert_problem(admin.post("/api/v1/policies", json={"name": name, "rules": rules}), 409)
    assert admin.get("/api/v1/policies/registry-pull").json()["builtin"] is True


def test_a_custom_policy_grants_what_it_says_until_deleted(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    push_image(admin, "id/policy/app", "1.0", seed="id-policy")
    push_image(admin, "id/unpolicied/app", "1.0", seed="id-unpolicied")
    rules = [{"capabilities": ["pull"], "repositories": ["id/policy/*"]}]
    for invalid in (
        {"name": "Id_Policy", "rules": rules},
        {"name": "id-policy", "rules": []},
        {"name": "id-policy", "rules": [{"capabilities": ["fly"], "repositories": ["x"]}]},
        {"name": "id-policy", "rules": [{"capabilities": ["pull"], "repositories": []}]},
    ):
        assert_problem(admin.post("/api/v1/policies", json=invalid), 400)
    made = admin.post("/api/v1/policies", json={"name": "id-policy", "rules": rules})
    assert made.status_code == 201
    assert made.json() == {"name": "id-policy", "description": "", "rules": rules, "builtin": False}
    assert_problem(admin.post("/api/v1/policies", json={"name": "id-policy", "rules": rules}), 409)

    with _user(ids, admin, "id-nora") as nora:
        assert_v2_denied(nora.get("/v2/id/policy/app/manifests/1.0"))
        bind_policy(admin, "id-policy", "user:id-nora")
        assert nora.get("/api/v1/users/id-nora").json()["policies"] == ["id-policy"]
        assert nora.get("/v2/id/policy/app/manifests/1.0").status_code == 200
        assert_v2_denied(nora.get("/v2/id/unpolicied/app/manifests/1.0"))
        assert_v2_denied(nora.post("/v2/id/policy/app/blobs/uploads/"))
        assert admin.delete("/api/v1/policies/id-policy").status_code == 204
        assert_v2_denied(nora.get("/v2/id/policy/app/manifests/1.0"))
        assert nora.get("/api/v1/users/id-nora").json()["policies"] == []
    assert_problem(admin.get("/api/v1/policies/id-policy"), 404)
    assert_problem(admin.delete("/api/v1/policies/id-policy"), 404)


def test_a_policy_binding_can_be_removed(ids: RegdProcess, admin: httpx.Client) -> None:
    push_image(admin, "id/unbind/app", "1.0", seed="id-unbind")
    with _user(ids, admin, "id-olga", policies=["registry-pull"]) as olga:
        assert olga.get("/v2/id/unbind/app/manifests/1.0").status_code == 200
        unbound = admin.delete("/api/v1/policies/registry-pull/bindings/user:id-olga")
        assert unbound.status_code == 204
        assert_v2_denied(olga.get("/v2/id/unbind/app/manifests/1.0"))
    assert_problem(admin.delete("/api/v1/policies/registry-pull/bindings/user:id-olga"), 404)
    bad = admin.post("/api/v1/policies/registry-pull/bindings", json={"principal": "olga"})
    assert_problem(bad, 400)
    missing = admin.post("/api/v1/policies/no-such/bindings", json={"principal": "user:id-olga"})
    assert_problem(missing, 404)


def test_a_role_binding_covers_its_namespace_and_nothing_beside_it(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    roles = {role["name"]: role["capabilities"] for role in admin.get("/api/v1/roles").json()}
    assert roles == {"registry-editor": ["pull", "push"], "registry-viewer": ["pull"]}
    binding = {"role": "registry-editor", "principal": "user:id-paul", "namespace": "id/roles"}
    with _user(ids, admin, "id-paul") as paul:
        assert_v2_denied(paul.post("/v2/id/roles/app/blobs/uploads/"))
        made = admin.post("/api/v1/role-bindings", json=binding)
        assert made.status_code == 201
        assert made.json() == binding
        assert binding in admin.get("/api/v1/role-bindings").json()
        push_image(paul, "id/roles/app", "1.0", seed="id-roles")
        push_image(paul, "id/roles", "1.0", seed="id-roles-top")
        assert_v2_denied(paul.post("/v2/id/rolesx/app/blobs/uploads/"))
        assert_v2_denied(paul.delete("/v2/id/roles/app/manifests/1.0"))
        removed = admin.delete("/api/v1/role-bindings/registry-editor/user:id-paul/id/roles")
        assert removed.status_code == 204
        assert_v2_denied(paul.get("/v2/id/roles/app/manifests/1.0"))
    for invalid in (
        {**binding, "role": "registry-owner"},
        {**binding, "namespace": ""},
        {**binding, "principal": "group:devs"},
    ):
        assert_problem(admin.post("/api/v1/role-bindings", json=invalid), 400)
    gone = admin.delete("/api/v1/role-bindings/registry-editor/user:id-paul/id/roles")
    assert_problem(gone, 404)


# -- access rules and ownership ------------------------------------------------------------


def test_a_public_access_rule_grants_pull_and_nothing_else(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    image = push_image(admin, "id/public/app", "1.0", seed="id-public")
    rules = "/api/v1/repositories/id/public/app/-/access-rules"
    for actions in (["pull", "push"], ["push"], ["delete"], []):
        body = {"principal": "public", "actions": actions}
        assert_problem(admin.post(rules, json=body), 400)
    with ids.client(auth=None) as anonymous:
        assert_v2_unauthorized(
            anonymous.get("/v2/id/public/app/manifests/1.0"), "repository:id/public/app:pull"
        )
        made = admin.post(rules, json={"principal": "public", "actions": ["pull"]})
        assert made.status_code == 201
        assert admin.get(rules).json() == [{"principal": "public", "actions": ["pull"]}]
        assert anonymous.get("/v2/id/public/app/manifests/1.0").content == image.manifest
        assert anonymous.get("/v2/id/public/app/tags/list").json()["tags"] == ["1.0"]
        assert_v2_unauthorized(
            push_manifest(anonymous, "id/public/app", "2.0", image.manifest),
            "repository:id/public/app:pull,push",
        )
        assert_v2_unauthorized(anonymous.delete(f"/v2/id/public/app/manifests/{image.digest}"))
        assert_problem(anonymous.get("/api/v1/repositories/id/public/app"), 401)
        assert admin.delete(f"{rules}/public").status_code == 204
        assert_v2_unauthorized(anonymous.get("/v2/id/public/app/manifests/1.0"))
    assert_problem(admin.delete(f"{rules}/public"), 404)


def test_a_user_access_rule_grants_its_actions_on_its_repository_only(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    image = push_image(admin, "id/ruled/app", "1.0", seed="id-ruled")
    push_image(admin, "id/ruled/other", "1.0", seed="id-ruled-other")
    with _user(ids, admin, "id-quinn") as quinn:
        made = set_access_rule(admin, "id/ruled/app", "user:id-quinn", ["push", "pull"])
        assert made.json() == {"principal": "user:id-quinn", "actions": ["pull", "push"]}
        assert push_manifest(quinn, "id/ruled/app", "2.0", image.manifest).status_code == 201
        assert_v2_denied(quinn.delete(f"/v2/id/ruled/app/manifests/{image.digest}"))
        assert_v2_denied(quinn.get("/v2/id/ruled/other/manifests/1.0"))
        # holding push on a repository does not make one manage its rules
        assert_problem(quinn.get("/api/v1/repositories/id/ruled/app/-/access-rules"), 403)


def test_the_creator_of_a_repository_owns_it_and_manages_its_access_rules(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    with (
        _user(ids, admin, "id-rita", policies=["registry-push"]) as rita,
        _user(ids, admin, "id-sam", policies=["registry-push"]) as sam,
        _user(ids, admin, "id-tess") as tess,
    ):
        made = rita.post("/api/v1/repositories", json={"name": "id/owned/app"})
        assert made.status_code == 201, made.text
        assert made.json()["name"] == "id/owned/app"
        assert_problem(rita.post("/api/v1/repositories", json={"name": "id/owned/app"}), 409)
        assert_problem(rita.post("/api/v1/repositories", json={"name": "Not A Name"}), 400)
        assert_problem(tess.post("/api/v1/repositories", json={"name": "id/tess/app"}), 403)
        push_image(rita, "id/owned/app", "1.0", seed="id-owned")

        rules = "/api/v1/repositories/id/owned/app/-/access-rules"
        assert rita.get(rules).json() == []
        assert_v2_denied(tess.get("/v2/id/owned/app/manifests/1.0"))
        assert set_access_rule(rita, "id/owned/app", "user:id-tess", ["pull"]).status_code == 201
        assert tess.get("/v2/id/owned/app/manifests/1.0").status_code == 200

        # another user, who may push anywhere, still does not manage what rita owns
        assert_problem(sam.get(rules), 403)
        assert_problem(set_access_rule(sam, "id/owned/app", "user:id-sam", ["delete"]), 403)
        assert_problem(sam.delete(f"{rules}/user:id-tess"), 403)
        assert_problem(sam.delete("/api/v1/repositories/id/owned/app"), 403)
        assert_problem(tess.get(rules), 403)

        assert rita.delete(f"{rules}/user:id-tess").status_code == 204
        assert_v2_denied(tess.get("/v2/id/owned/app/manifests/1.0"))
        assert rita.delete("/api/v1/repositories/id/owned/app").status_code == 204


def test_creating_a_repository_does_not_take_over_repositories_below_it(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    push_image(admin, "id/taken/app", "1.0", seed="id-taken")
    with _user(ids, admin, "id-uma", policies=["registry-push"]) as uma:
        # id/taken is free, but owning it would mean owning id/taken/app, made by someone else
        assert_problem(uma.post("/api/v1/repositories", json={"name": "id/taken"}), 409)
        assert_problem(uma.get("/api/v1/repositories/id/taken/app/-/access-rules"), 403)
        assert_problem(uma.delete("/api/v1/repositories/id/taken/app"), 403)
    assert admin.get("/v2/id/taken/app/manifests/1.0").status_code == 200


def test_a_deleted_repository_leaves_no_owner_or_rules_to_its_successor(
    ids: RegdProcess, admin: httpx.Client
) -> None:
    with (
        _user(ids, admin, "id-vera", policies=["registry-push"]) as vera,
        _user(ids, admin, "id-walt", policies=["registry-push"]) as walt,
        ids.client(auth=None) as anonymous,
    ):
        assert vera.post("/api/v1/repositories", json={"name": "id/reborn"}).status_code == 201
        push_image(vera, "id/reborn", "1.0", seed="id-reborn")
        assert set_access_rule(vera, "id/reborn", "public", ["pull"]).status_code == 201
        assert anonymous.get("/v2/id/reborn/manifests/1.0").status_code == 200
        assert vera.delete("/api/v1/repositories/id/reborn").status_code == 204

        assert walt.post("/api/v1/repositories", json={"name": "id/reborn"}).status_code == 201
        push_image(walt, "id/reborn", "1.0", seed="id-reborn-again")
        assert walt.get("/api/v1/repositories/id/reborn/-/access-rules").json() == []
        assert_v2_unauthorized(anonymous.get("/v2/id/reborn/manifests/1.0"))
        assert_problem(vera.get("/api/v1/repositories/id/reborn/-/access-rules"), 403)
        assert_problem(vera.delete("/api/v1/repositories/id/reborn"), 403)
