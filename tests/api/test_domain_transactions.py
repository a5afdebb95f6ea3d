"""Multi-step management writes are one transaction each: a refusal in a later step leaves
nothing of the earlier ones, and concurrent writers see one outcome each."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.identities import (
    assert_problem,
    bind_role,
    client_as,
    create_user,
    set_access_rule,
)
from tests.support.server import RegdProcess

PASSWORD = "long-password-1"


def test_a_user_whose_second_policy_is_unknown_is_not_stored(http: httpx.Client) -> None:
    body = {"name": "txn-half", "password": PASSWORD, "policies": ["registry-pull", "no-such"]}
    response = http.post("/api/v1/users", json=body)
    assert "unknown policies: no-such" in assert_problem(response, 400)["detail"]
    assert_problem(http.get("/api/v1/users/txn-half"), 404)
    # Nothing was left under the name: neither the user nor its first binding.
    made = create_user(http, "txn-half", PASSWORD)
    assert made["policies"] == []


def test_a_robot_whose_role_binding_is_refused_is_not_stored(http: httpx.Client) -> None:
    body = {"description": "txn-robot", "role": "registry-viewer", "namespace": "/"}
    response = http.post("/api/v1/api-clients", json=body)
    assert "namespace" in assert_problem(response, 400)["detail"]
    robots = http.get("/api/v1/api-clients").json()
    assert [robot for robot in robots if robot["description"] == "txn-robot"] == []


def test_a_repository_made_again_starts_without_its_old_owner_and_rules(
    regd: RegdProcess, http: httpx.Client
) -> None:
    create_user(http, "txn-owner", PASSWORD)
    bind_role(http, "registry-editor", "user:txn-owner", "txn")
    with client_as(regd, ("txn-owner", PASSWORD)) as owner:
        assert owner.post("/api/v1/repositories", json={"name": "txn/app"}).status_code == 201
        assert set_access_rule(owner, "txn/app", "public", ["pull"]).status_code == 201
        assert owner.delete("/api/v1/repositories/txn/app").status_code == 204
        # The admin makes it again: the old owner's rule and ownership went with it.
        assert http.post("/api/v1/repositories", json={"name": "txn/app"}).status_code == 201
        assert http.get("/api/v1/repositories/txn/app/-/access-rules").json() == []
        assert_problem(owner.delete("/api/v1/repositories/txn/app"), 403)


def test_a_name_with_repositories_below_is_refused_and_not_created(http: httpx.Client) -> None:
    assert http.post("/api/v1/repositories", json={"name": "txn-b/inner"}).status_code == 201
    assert_problem(http.post("/api/v1/repositories", json={"name": "txn-b"}), 409)
    assert_problem(http.get("/api/v1/repositories/txn-b"), 404)


def test_concurrent_creates_and_deletes_of_one_repository_have_one_winner(
    http: httpx.Client,
) -> None:
    def create(_: int) -> int:
        return http.post("/api/v1/repositories", json={"name": "txn-race"}).status_code

    def delete(_: int) -> int:
        return http.delete("/api/v1/repositories/txn-race").status_code

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(create, range(8))) == [201] + [409] * 7
        assert sorted(pool.map(delete, range(8))) == [204] + [404] * 7
    assert_problem(http.get("/api/v1/repositories/txn-race"), 404)
