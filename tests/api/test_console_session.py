"""The web console's session over real HTTP: the cookie, CSRF, CSP, sign-out, assets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from regd.http.console.assets import files
from tests.support.identities import assert_problem, create_user
from tests.support.oci import push_image
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd

pytestmark = pytest.mark.xdist_group("console-session")


@pytest.fixture(scope="module")
def regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    server = start_regd(tmp_path_factory.mktemp("console-session"))
    with server.client() as admin:
        push_image(admin, "console/app", "1.0", seed="console")
        create_user(admin, "console-user", "console-user-password")
    yield server
    assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log
    assert "console-user-password" not in server.log


def browser(regd: RegdProcess) -> httpx.Client:
    """An anonymous client that keeps cookies, as a browser would."""
    return httpx.Client(base_url=regd.url, timeout=30)


def sign_in(
    regd: RegdProcess, user: str = "admin", password: str = ADMIN_PASSWORD
) -> tuple[httpx.Client, str]:
    """A signed-in client (the cookie kept) and its anti-forgery token."""
    client = browser(regd)
    response = client.post(
        "/ui/session",
        json={"username": user, "password": password},
        headers={"Origin": regd.url},
    )
    assert response.status_code == 201, response.text
    return client, str(response.json()["csrf-token"])


def test_sign_in_sets_an_httponly_strict_cookie_holding_a_personal_token(
    regd: RegdProcess,
) -> None:
    client = browser(regd)
    response = client.post(
        "/ui/session",
        json={"username": "console-user", "password": "console-user-password"},
        headers={"Origin": regd.url},
    )
    assert response.status_code == 201, response.text
    assert response.json()["user"] == "console-user"
    assert response.json()["admin"] is False
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("regd_session=regd_")
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "samesite=strict" in lowered
    assert "path=/" in lowered
    assert "secure" not in lowered.replace("secure=", ""), "plain HTTP: no Secure flag"
    # The token is the user's, listed (and revocable) with its other tokens.
    tokens = client.get("/api/v1/tokens").json()
    assert [t["name"] for t in tokens] == ["web console"]
    assert client.get("/ui/session").json()["user"] == "console-user"


def test_the_cookie_is_secure_when_the_console_is_reached_over_https(
    tmp_path: Path,
) -> None:
    server = start_regd(tmp_path, env={"REGD_PUBLIC_URL": "https://registry.example"})
    try:
        with browser(server) as client:
            response = client.post(
                "/ui/session",
                json={"username": "admin", "password": ADMIN_PASSWORD},
                headers={"Origin": "https://registry.example"},
            )
            assert response.status_code == 201, response.text
            assert "; secure" in response.headers["Set-Cookie"].lower()
    finally:
        assert server.stop() == 0, server.log


def test_wrong_password_and_robot_credentials_do_not_sign_in(regd: RegdProcess) -> None:
    with browser(regd) as client:
        for username, password in (("admin", "wrong"), ("nobody", "x")):
            response = client.post(
                "/ui/session",
                json={"username": username, "password": password},
                headers={"Origin": regd.url},
            )
            assert_problem(response, 401)
            assert "Set-Cookie" not in response.headers
            assert "WWW-Authenticate" not in response.headers
        with regd.client() as admin:
            robot = admin.post("/api/v1/api-clients", json={}).json()
            token = admin.post("/api/v1/tokens", json={"ttl": "1h"}).json()["token"]
        # Neither an API client nor a token (any name, the token as password) signs in.
        for username, password in ((robot["id"], robot["secret"]), ("admin", token)):
            response = client.post(
                "/ui/session",
                json={"username": username, "password": password},
                headers={"Origin": regd.url},
            )
            assert_problem(response, 401)
        assert_problem(client.post("/ui/session", json={}, headers={"Origin": regd.url}), 400)


def test_signing_in_needs_this_registry_as_origin(regd: RegdProcess) -> None:
    body = {"username": "admin", "password": ADMIN_PASSWORD}
    with browser(regd) as client:
        for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"}):
            response = client.post("/ui/session", json=body, headers=headers)
            assert_problem(response, 403)
            assert "Set-Cookie" not in response.headers


def test_state_changes_through_the_cookie_need_origin_and_csrf_token(regd: RegdProcess) -> None:
    client, csrf = sign_in(regd)
    with closing(client):
        assert client.get("/api/v1/repositories").status_code == 200
        body = {"name": "console/made"}
        forged = [
            {"Origin": regd.url},  # no token
            {"Origin": regd.url, "X-CSRF-Token": "0" * 64},  # a wrong one
            {"X-CSRF-Token": csrf},  # no Origin
            {"Origin": "http://evil.example", "X-CSRF-Token": csrf},
        ]
        for headers in forged:
            response = client.post("/api/v1/repositories", json=body, headers=headers)
            assert_problem(response, 403)
        with regd.client() as admin:
            names = [r["name"] for r in admin.get("/api/v1/repositories").json()]
        assert "console/made" not in names, "a refused request changed nothing"
        response = client.post(
            "/api/v1/repositories", json=body, headers={"Origin": regd.url, "X-CSRF-Token": csrf}
        )
        assert response.status_code == 201, response.text


def test_the_cookie_reads_v2_but_never_writes_there(regd: RegdProcess) -> None:
    client, csrf = sign_in(regd)
    with closing(client):
        assert client.get("/v2/console/app/manifests/1.0").status_code == 200
        headers = {"Origin": regd.url, "X-CSRF-Token": csrf}
        response = client.post("/v2/console/app/blobs/uploads/", headers=headers)
        assert response.status_code == 401, "a /v2/ write ignores the cookie: anonymous"


def test_sign_out_revokes_the_token_and_the_old_cookie_no_longer_works(
    regd: RegdProcess,
) -> None:
    client, csrf = sign_in(regd)
    with closing(client):
        value = client.cookies["regd_session"]
        assert_problem(client.delete("/ui/session", headers={"Origin": regd.url}), 403)
        response = client.delete("/ui/session", headers={"Origin": regd.url, "X-CSRF-Token": csrf})
        assert response.status_code == 204
        assert "regd_session=" in response.headers["Set-Cookie"]
    # Someone who kept the cookie gets nothing with it.
    with httpx.Client(base_url=regd.url, cookies={"regd_session": value}) as stale:
        response = stale.get("/api/v1/repositories")
        assert_problem(response, 401)
        assert "WWW-Authenticate" not in response.headers, "no password dialog in a browser"
        assert stale.get("/v2/console/app/tags/list").status_code == 401
        assert stale.get("/ui/session").json() == {"user": None}
    accessor = value.split("_")[1]
    with regd.client() as admin:
        token = admin.get(f"/api/v1/tokens/{accessor}").json()
    assert token["name"] == "web console"
    assert token["revoked-at"], "signing out revoked the session's token"


def test_console_pages_and_assets_carry_a_strict_csp(regd: RegdProcess) -> None:
    with browser(regd) as client:
        assert client.get("/ui").headers["Location"] == "/ui/"
        paths = ["/ui/", "/ui/session", "/ui/nothing-here.js"] + [
            f"/ui/{path}" for path in files() if path != "index.html"
        ]
        for path in paths:
            response = client.get(path)
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp, path
            assert "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        page = client.get("/ui/")
        assert page.headers["Content-Type"].startswith("text/html")
        assert "<script>" not in page.text, "no inline script"
        assert "onclick=" not in page.text
        again = client.get(
            "/ui/js/main.js",
            headers={"If-None-Match": client.get("/ui/js/main.js").headers["ETag"]},
        )
        assert again.status_code == 304
        assert client.get("/ui/nothing-here.js").status_code == 404
        assert client.get("/ui/../regd.db").status_code == 404


def test_every_asset_ships_in_the_package_and_is_small() -> None:
    found = files()
    assert {"index.html", "console.css", "js/main.js", "vendor/js-yaml.min.js"} <= set(found)
    own = sum(len(a.body) for path, a in found.items() if not path.startswith("vendor/"))
    assert own < 100_000, f"the console's own assets grew to {own} bytes"
