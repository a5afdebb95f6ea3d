"""Who may do what: every /v2/ endpoint, /token and every /api/v1/ route, for every kind
of principal, from ONE table (``ROWS``).

Each row is an endpoint (how to call it, its success status) and one expectation per
principal column: ``ok`` (the row's success status), ``401`` (no or bad credentials: a
challenge), ``403`` (authenticated, not allowed: ``DENIED`` on /v2/, problem+json on
/api/v1/), ``404`` (someone else's API client or token: not even shown). ``/token`` rows
list the actions the issued JWT grants (``-``: none).

One regd serves the whole matrix; the principals are set up once. Rows that change
something (delete a manifest, a user, a token...) first create their own victim as
admin, so every cell is independent of the order cells run in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest

from regd.app import build_app
from regd.http import api
from regd.http.api.openapi import openapi_path
from regd.settings import Settings
from tests.support.identities import (
    assert_problem,
    assert_v2_denied,
    assert_v2_unauthorized,
    bearer_client,
    bind_policy,
    bind_role,
    client_as,
    create_api_client,
    create_token,
    create_user,
    granted,
    set_access_rule,
)
from tests.support.oci import (
    OCI_MANIFEST,
    Image,
    digest_of,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
)
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd
from tests.support.waiting import wait_until

pytestmark = pytest.mark.xdist_group("authz-matrix")

#: The principals, in the order of the table's cells.
COLUMNS = (
    "anon",  # no credentials, on a private repository
    "anon-public",  # no credentials, on a repository with a `public` access rule
    "viewer",  # user with the registry-viewer role on the namespace
    "editor",  # user with the registry-editor role on the namespace
    "robot",  # API client granted pull on the namespace
    "push-token",  # PAT limited to registry-push, of a user holding registry-push
    "expired",  # the editor's PAT, past its 1 s ttl
    "revoked",  # the editor's PAT, revoked
    "admin",  # the admin user
)

NAMESPACE = "mx/team"
VAULT = "mx-vault"
REMOTE = "mx-upstream.invalid"
_VAULTS = "/api/v1/strongbox/vaults"
_REMOTES = "/api/v1/image-registry/remote-registries"
_SETTINGS = "/api/v1/image-registry/settings"
_CACHE = "/api/v1/image-registry/cache"
PRIVATE = "mx/team/app"
PUBLIC = "mx/open/app"
PUBLIC_INNER = "mx/open/app/inner"
RULED = "mx/ruled"
RULED_INNER = "mx/ruled/inner"
PASSWORDS = {
    "admin": ADMIN_PASSWORD,
    "mx-viewer": "viewer-password-1",
    "mx-editor": "editor-password-2",
    "mx-pusher": "pusher-password-3",
    "mx-bystander": "bystander-password-4",
}


@dataclass
class Actor:
    column: str
    client: httpx.Client
    #: Where its /v2/ requests go.
    repository: str
    #: The user it is (its API client id for the robot): ``/api/v1/users/{self}``.
    self_name: str


@dataclass
class World:
    regd: RegdProcess
    admin: httpx.Client
    bystander: httpx.Client
    actors: dict[str, Actor]
    images: dict[str, Image]
    #: An API client and a token that belong to someone else than the principals.
    admin_robot: str = ""
    bystander_token: str = ""
    clients: list[httpx.Client] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


#: Makes the request of a row for one principal: ``unique`` names what the cell creates,
#: ``allowed`` says whether the cell expects success.
Build = Callable[[World, Actor, str, bool], Call]


@dataclass(frozen=True)
class Row:
    label: str
    build: Build
    ok: int
    cells: str
    #: The route (method, path as in the route table) the row exercises.
    route: tuple[str, str] | None = None
    kind: Literal["status", "token"] = "status"

    def expected(self, column: str) -> str:
        return self.cells.split()[COLUMNS.index(column)]


# -- builders ------------------------------------------------------------------------


def fixed(method: str, template: str, body: Any = None) -> Build:
    """A request that needs nothing made first: ``{repo}``, ``{digest}`` (its image's
    manifest), ``{blob}`` (its config blob) and ``{self}`` are filled in."""

    def build(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
        image = world.images[actor.repository]
        path = template.format(
            repo=actor.repository,
            digest=image.digest,
            blob=digest_of(image.config),
            self=actor.self_name,
            robot=world.admin_robot,
            token=world.bystander_token,
            unique=unique,
        )
        return Call(method, path, json=body)

    return build


def put_manifest(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    image = world.images[actor.repository]
    return Call(
        "PUT",
        f"/v2/{actor.repository}/manifests/put-{unique}",
        content=image.manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )


def delete_manifest(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    image = world.images[actor.repository]
    manifest = image_manifest(image.config, image.layers, annotations={"cell": unique})
    digest = digest_of(manifest)
    assert push_manifest(world.admin, actor.repository, digest, manifest).status_code == 201
    return Call("DELETE", f"/v2/{actor.repository}/manifests/{digest}")


def delete_blob(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    digest = push_blob(world.admin, actor.repository, f"doomed blob {unique}".encode())
    return Call("DELETE", f"/v2/{actor.repository}/blobs/{digest}")


def _upload(world: World, actor: Actor) -> str:
    """An upload session the admin started in the actor's repository: its location."""
    response = world.admin.post(f"/v2/{actor.repository}/blobs/uploads/")
    assert response.status_code == 202, response.text
    return response.headers["Location"]


def upload(method: str) -> Build:
    def build(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
        location = _upload(world, actor)
        data = f"chunk {unique}".encode()
        if method == "PATCH":
            headers = {"Content-Type": "application/octet-stream"}
            return Call("PATCH", location, content=data, headers=headers)
        if method == "PUT":
            return Call("PUT", f"{location}?digest={digest_of(data)}", content=data)
        return Call(method, location)

    return build


def token_scope(scope: str) -> Build:
    return fixed("GET", f"/token?service=regd&scope={scope}")


def patch_self(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    password = PASSWORDS.get(actor.self_name, "not-anyones-password")
    return Call("PATCH", f"/api/v1/users/{actor.self_name}", json={"password": password})


def delete_user(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    if not allowed:  # a user that must survive: new ones cost an argon2 hash each
        return Call("DELETE", "/api/v1/users/mx-bystander")
    create_user(world.admin, f"mx-victim-{unique}", "victim-password")
    return Call("DELETE", f"/api/v1/users/mx-victim-{unique}")


def delete_api_client(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    client_id, _secret = create_api_client(world.admin, description=f"victim {unique}")
    return Call("DELETE", f"/api/v1/api-clients/{client_id}")


def revoke_token(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    accessor, _value = create_token(world.bystander, ttl="1h", name=f"victim {unique}")
    return Call("DELETE", f"/api/v1/tokens/{accessor}")


def delete_policy(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    rules = [{"capabilities": ["pull"], "repositories": ["mx/nothing/*"]}]
    body = {"name": f"mx-doomed-{unique}", "rules": rules}
    assert world.admin.post("/api/v1/policies", json=body).status_code == 201
    return Call("DELETE", f"/api/v1/policies/mx-doomed-{unique}")


def on_webhook(method: str, suffix: str = "") -> Build:
    """A request on a webhook the admin made for the cell (its receiver: nothing listens)."""

    def build(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
        body = {"name": f"mx-hook-{unique}", "url": "http://127.0.0.1:9/hook", "events": ["tag"]}
        assert world.admin.post("/api/v1/webhooks", json=body).status_code == 201
        return Call(method, f"/api/v1/webhooks/mx-hook-{unique}{suffix}")

    return build


def unbind_policy(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    bind_policy(world.admin, "registry-pull", "user:mx-bystander")
    return Call("DELETE", "/api/v1/policies/registry-pull/bindings/user:mx-bystander")


def unbind_role(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    bind_role(world.admin, "registry-viewer", "user:mx-bystander", f"mx/gone-{unique}")
    return Call(
        "DELETE", f"/api/v1/role-bindings/registry-viewer/user:mx-bystander/mx/gone-{unique}"
    )


def delete_access_rule(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    # (Rules name principals that exist: always the bystander, whose rule is set again.)
    response = set_access_rule(world.admin, PRIVATE, "user:mx-bystander", ["pull"])
    assert response.status_code == 201, response.text
    return Call("DELETE", f"/api/v1/repositories/{PRIVATE}/-/access-rules/user:mx-bystander")


def delete_tag(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    image = world.images[PRIVATE]
    assert push_manifest(world.admin, PRIVATE, f"del-{unique}", image.manifest).status_code == 201
    return Call("DELETE", f"/api/v1/repositories/{PRIVATE}/-/tags/del-{unique}")


def delete_manifest_api(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    image = world.images[PRIVATE]
    manifest = image_manifest(image.config, image.layers, annotations={"api-cell": unique})
    digest = digest_of(manifest)
    assert push_manifest(world.admin, PRIVATE, digest, manifest).status_code == 201
    return Call("DELETE", f"/api/v1/repositories/{PRIVATE}/-/manifests/{digest}")


def delete_repository(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    name = f"{NAMESPACE}/gone-{unique}"
    push_blob(world.admin, name, f"the only blob of {unique}".encode())
    return Call("DELETE", f"/api/v1/repositories/{name}")


def delete_vault(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    created = world.admin.post(f"{_VAULTS}", json={"name": f"mxv-gone-{unique}"})
    assert created.status_code == 201, created.text
    return Call("DELETE", f"{_VAULTS}/mxv-gone-{unique}")


def delete_secret(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    body = {"name": f"gone-{unique}", "data": {"key": "value"}}
    created = world.admin.post(f"{_VAULTS}/{VAULT}/secrets", json=body)
    assert created.status_code == 201, created.text
    return Call("DELETE", f"{_VAULTS}/{VAULT}/secrets/gone-{unique}")


def delete_remote(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    created = world.admin.post(_REMOTES, json={"address": f"mx-gone-{unique}"})
    assert created.status_code == 201, created.text
    return Call("DELETE", f"{_REMOTES}/mx-gone-{unique}")


def token_for_robot(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
    return Call("POST", "/api/v1/tokens", json={"ttl": "1h", "for": world.admin_robot})


def on_v2(cells: str, method: str, path: str, build: Build, ok: int) -> Row:
    return Row(f"{method} {path}", build, ok, cells, route=(method, path))


def on_api(cells: str, method: str, path: str, build: Build, ok: int) -> Row:
    return Row(f"{method} {openapi_path(path)}", build, ok, cells, route=(method, path))


def post(path: str, body: dict[str, Any], key: str | None = None, prefix: str = "") -> Build:
    """A POST; with ``key``, its body names something new per cell (``prefix`` + unique)."""

    def build(world: World, actor: Actor, unique: str, allowed: bool) -> Call:
        return Call("POST", path, json={**body, key: f"{prefix}{unique}"} if key else body)

    return build


_MANIFEST = "/v2/{name}/manifests/{reference}"
_BLOB = "/v2/{name}/blobs/{digest}"
_UPLOAD = "/v2/{name}/blobs/uploads/{uuid}"
_PRIVATE_API = f"/api/v1/repositories/{PRIVATE}"
_RULES = "/api/v1/repositories/{name:.+}/-/access-rules"
_REPO = "/api/v1/repositories/{name:.+}"
_NEW_POLICY = {"rules": [{"capabilities": ["pull"], "repositories": ["mx/*"]}]}
_ROBOT_GRANTS = {"grants": [{"capabilities": ["pull"], "repositories": [PRIVATE]}]}
_PUSH_GRANTS = {"grants": [{"capabilities": ["pull", "push"], "repositories": [NAMESPACE + "/*"]}]}
_BYSTANDER = {"principal": "user:mx-bystander"}
_SAME_PASSWORD = {"password": PASSWORDS["mx-bystander"]}

# -- THE table -----------------------------------------------------------------------------
# fmt: off
ROWS: tuple[Row, ...] = (
    # /v2/ (the OCI distribution API)
    #       anon pub  view edit robot ptok exp  rev  admin
    on_v2("401  401  ok   ok   ok   ok   401  401  ok", "GET", "/v2/", fixed("GET", "/v2/"), 200),
    on_v2("401  401  ok   ok   ok   ok   401  401  ok", "GET", "/v2/_catalog",
          fixed("GET", "/v2/_catalog"), 200),
    on_v2("401  ok   ok   ok   ok   ok   401  401  ok", "GET", "/v2/{name}/tags/list",
          fixed("GET", "/v2/{repo}/tags/list"), 200),
    on_v2("401  ok   ok   ok   ok   ok   401  401  ok", "GET", _MANIFEST,
          fixed("GET", "/v2/{repo}/manifests/base"), 200),
    on_v2("401  ok   ok   ok   ok   ok   401  401  ok", "HEAD", _MANIFEST,
          fixed("HEAD", "/v2/{repo}/manifests/{digest}"), 200),
    on_v2("401  401  403  ok   403  ok   401  401  ok", "PUT", _MANIFEST,
          put_manifest, 201),
    on_v2("401  401  403  403  403  403  401  401  ok", "DELETE", _MANIFEST,
          delete_manifest, 202),
    on_v2("401  ok   ok   ok   ok   ok   401  401  ok", "HEAD", _BLOB,
          fixed("HEAD", "/v2/{repo}/blobs/{blob}"), 200),
    on_v2("401  ok   ok   ok   ok   ok   401  401  ok", "GET", _BLOB,
          fixed("GET", "/v2/{repo}/blobs/{blob}"), 200),
    on_v2("401  401  403  403  403  403  401  401  ok", "DELETE", _BLOB,
          delete_blob, 202),
    on_v2("401  401  403  ok   403  ok   401  401  ok", "POST", "/v2/{name}/blobs/uploads/",
          fixed("POST", "/v2/{repo}/blobs/uploads/"), 202),
    on_v2("401  401  403  ok   403  ok   401  401  ok", "POST", "/v2/{name}/blobs/uploads",
          fixed("POST", "/v2/{repo}/blobs/uploads"), 202),
    on_v2("401  401  403  ok   403  ok   401  401  ok", "PATCH", _UPLOAD,
          upload("PATCH"), 202),
    on_v2("401  401  403  ok   403  ok   401  401  ok", "PUT", _UPLOAD,
          upload("PUT"), 201),
    on_v2("401  ok   ok   ok   ok   ok   401  401  ok", "GET", _UPLOAD,
          upload("GET"), 204),
    # Cancelling an upload is a DELETE: it needs delete, as in the reference registry.
    on_v2("401  401  403  403  403  403  401  401  ok", "DELETE", _UPLOAD,
          upload("DELETE"), 204),
    on_v2("401  ok   ok   ok   ok   ok   401  401  ok", "GET", "/v2/{name}/referrers/{digest}",
          fixed("GET", "/v2/{repo}/referrers/{digest}"), 200),
    # Access rules cover the images below their repository (docs/security.md): a public
    # rule on mx/open/app, and mx-viewer's pull+push rule on mx/ruled (nothing else).
    Row("GET /v2/ below a public rule", fixed("GET", f"/v2/{PUBLIC_INNER}/manifests/base"), 200,
          "ok   ok   ok   ok   ok   ok   401  401  ok"),
    Row("GET /v2/ below a user's rule", fixed("GET", f"/v2/{RULED_INNER}/manifests/base"), 200,
          "401  401  ok   403  403  ok   401  401  ok"),
    Row("POST /v2/ uploads below a user's rule",
          fixed("POST", f"/v2/{RULED_INNER}/blobs/uploads/"), 202,
          "401  401  ok   403  403  ok   401  401  ok"),

    # /token: the actions the JWT grants (- none); asking for more is never an error
    #     anon pub  view edit      robot ptok      exp  rev  admin
    Row("GET /token repository:NAME:pull,push,delete",
        token_scope("repository:{repo}:pull,push,delete"), 200,
        "-    pull pull pull,push pull  pull,push 401  401  delete,pull,push",
        route=("GET", "/token"), kind="token"),
    Row("GET /token registry:catalog:*", token_scope("registry:catalog:*"), 200,
        "-    -    *    *         *     *         401  401  *",
        kind="token"),

    # /api/v1/ repositories and their access rules
    #       anon pub  view edit robot ptok exp  rev  admin
    on_api("401  401  403  403  403  403  401  401  ok", "GET", _RULES,
           fixed("GET", f"{_PRIVATE_API}/-/access-rules"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", _RULES,
           post(f"{_PRIVATE_API}/-/access-rules", {**_BYSTANDER, "actions": ["pull"]}), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE", _RULES + "/{principal}",
           delete_access_rule, 204),
    # Brightbox's "Add Access Rule": a new API client and its rule in one request
    Row("POST access-rules new-api-client",
           post(f"{_PRIVATE_API}/-/access-rules", {"new-api-client": "mx", "actions": ["pull"]}),
           201, "401  401  403  403  403  403  401  401  ok"),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", "/api/v1/repositories",
           fixed("GET", "/api/v1/repositories"), 200),
    on_api("401  401  403  ok   403  ok   401  401  ok", "POST", "/api/v1/repositories",
           post("/api/v1/repositories", {}, "name", f"{NAMESPACE}/new-"), 201),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", _REPO + "/-/tags",
           fixed("GET", f"{_PRIVATE_API}/-/tags"), 200),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", _REPO + "/-/tags/{tag}",
           fixed("GET", f"{_PRIVATE_API}/-/tags/base"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE", _REPO + "/-/tags/{tag}",
           delete_tag, 204),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", _REPO + "/-/manifests",
           fixed("GET", f"{_PRIVATE_API}/-/manifests"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE",
           _REPO + "/-/manifests/{digest}", delete_manifest_api, 204),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", _REPO,
           fixed("GET", _PRIVATE_API), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE", _REPO, delete_repository, 204),

    # users: admins manage everyone; a user reads and re-keys itself (not with a limited token)
    on_api("401  401  403  403  403  403  401  401  ok", "GET", "/api/v1/users",
           fixed("GET", "/api/v1/users"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", "/api/v1/users",
           post("/api/v1/users", {"password": "new-user-password"}, "name", "mx-new-"), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", "/api/v1/users/{name}",
           fixed("GET", "/api/v1/users/mx-bystander"), 200),
    Row("GET /api/v1/users/{self}", fixed("GET", "/api/v1/users/{self}"), 200,
           "401  401  ok   ok   403  ok   401  401  ok"),
    on_api("401  401  403  403  403  403  401  401  ok", "PATCH", "/api/v1/users/{name}",
           fixed("PATCH", "/api/v1/users/mx-bystander", _SAME_PASSWORD), 200),
    Row("PATCH /api/v1/users/{self}", patch_self, 200,
           "401  401  ok   ok   403  403  401  401  ok"),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE", "/api/v1/users/{name}",
           delete_user, 204),

    # API clients: others' robots are hidden
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", "/api/v1/api-clients",
           fixed("GET", "/api/v1/api-clients"), 200),
    # granting needs what is granted (pull on mx/team/app); robots and limited tokens: never
    on_api("401  401  ok   ok   403  403  401  401  ok", "POST", "/api/v1/api-clients",
           post("/api/v1/api-clients", _ROBOT_GRANTS), 201),
    Row("POST /api/v1/api-clients pull,push", post("/api/v1/api-clients", _PUSH_GRANTS), 201,
           "401  401  403  ok   403  403  401  401  ok"),
    on_api("401  401  404  404  404  404  401  401  ok", "GET", "/api/v1/api-clients/{id}",
           fixed("GET", "/api/v1/api-clients/{robot}"), 200),
    on_api("401  401  404  404  404  404  401  401  ok", "POST",
           "/api/v1/api-clients/{id}/reset-secret",
           fixed("POST", "/api/v1/api-clients/{robot}/reset-secret"), 200),
    on_api("401  401  404  404  404  404  401  401  ok", "DELETE", "/api/v1/api-clients/{id}",
           delete_api_client, 204),

    # tokens: every principal makes its own; others' are hidden
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", "/api/v1/tokens",
           fixed("GET", "/api/v1/tokens"), 200),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "POST", "/api/v1/tokens",
           post("/api/v1/tokens", {"ttl": "1h"}), 201),
    on_api("401  401  404  404  404  404  401  401  ok", "GET", "/api/v1/tokens/{id}",
           fixed("GET", "/api/v1/tokens/{token}"), 200),
    on_api("401  401  404  404  404  404  401  401  ok", "DELETE", "/api/v1/tokens/{id}",
           revoke_token, 204),
    # a token minted for an API client: its owner's or a registry admin's to mint
    Row("POST /api/v1/tokens for an API client", token_for_robot, 201,
           "401  401  404  404  404  404  401  401  ok"),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "POST", "/api/v1/token",
           post("/api/v1/token", {}), 201),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "POST",
           "/api/v1/strongbox/token/create-token",
           post("/api/v1/strongbox/token/create-token", {"ttl": "4h"}), 201),

    # policies and role bindings: registry admins only (the roles themselves are readable)
    on_api("401  401  403  403  403  403  401  401  ok", "GET", "/api/v1/policies",
           fixed("GET", "/api/v1/policies"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", "/api/v1/policies",
           post("/api/v1/policies", _NEW_POLICY, "name", "mx-made-"), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", "/api/v1/policies/{name}",
           fixed("GET", "/api/v1/policies/registry-pull"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE", "/api/v1/policies/{name}",
           delete_policy, 204),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", "/api/v1/policies/{name}/bindings",
           post("/api/v1/policies/registry-pull/bindings", _BYSTANDER), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE",
           "/api/v1/policies/{name}/bindings/{principal}", unbind_policy, 204),
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", "/api/v1/roles",
           fixed("GET", "/api/v1/roles"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", "/api/v1/role-bindings",
           fixed("GET", "/api/v1/role-bindings"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", "/api/v1/role-bindings",
           post("/api/v1/role-bindings", {**_BYSTANDER, "role": "registry-viewer"},
                "namespace", "mx/bound-"), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE",
           "/api/v1/role-bindings/{role}/{principal}/{namespace:.+}", unbind_role, 204),

    # Strongbox: deny by default. The listing shows only the vaults the caller may read
    # (test_vault_listing_shows_only_readable_vaults); anything of a vault needs
    # strongbox-read on it, writes strongbox-write
    on_api("401  401  ok   ok   ok   ok   401  401  ok", "GET", _VAULTS,
           fixed("GET", _VAULTS), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", _VAULTS,
           post(_VAULTS, {}, "name", "mxv-new-"), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", _VAULTS + "/{vault}",
           fixed("GET", f"{_VAULTS}/{VAULT}"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "PUT", _VAULTS + "/{vault}",
           fixed("PUT", _VAULTS + "/mxv-put-{unique}", {}), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE", _VAULTS + "/{vault}",
           delete_vault, 204),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", _VAULTS + "/{vault}/secrets",
           fixed("GET", f"{_VAULTS}/{VAULT}/secrets"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", _VAULTS + "/{vault}/secrets",
           post(f"{_VAULTS}/{VAULT}/secrets", {"data": {"key": "value"}}, "name", "new-"), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "GET",
           _VAULTS + "/{vault}/secrets/{secret}",
           fixed("GET", f"{_VAULTS}/{VAULT}/secrets/hub"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "PUT",
           _VAULTS + "/{vault}/secrets/{secret}",
           fixed("PUT", _VAULTS + f"/{VAULT}/secrets/put-{{unique}}", {"data": {"k": "v"}}), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "PATCH",
           _VAULTS + "/{vault}/secrets/{secret}",
           fixed("PATCH", _VAULTS + f"/{VAULT}/secrets/hub", {"data": {"note": "{unique}"}}), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE",
           _VAULTS + "/{vault}/secrets/{secret}", delete_secret, 204),
    on_api("401  401  403  403  403  403  401  401  ok", "GET",
           _VAULTS + "/{vault}/secrets/{secret}/docker-config",
           fixed("GET", f"{_VAULTS}/{VAULT}/secrets/hub/docker-config?server=mx.example"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "GET",
           _VAULTS + "/{vault}/secrets/{secret}/k8s-secret",
           fixed("GET", f"{_VAULTS}/{VAULT}/secrets/hub/k8s-secret?server=mx.example"), 200),

    # remote registries (pull-through), their settings and the cache: registry admins only
    on_api("401  401  403  403  403  403  401  401  ok", "GET", _REMOTES,
           fixed("GET", _REMOTES), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", _REMOTES,
           post(_REMOTES, {}, "address", "mx-new-"), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", _REMOTES + "/{address}",
           fixed("GET", f"{_REMOTES}/{REMOTE}"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "PUT", _REMOTES + "/{address}",
           fixed("PUT", _REMOTES + "/mx-put-{unique}", {}), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE", _REMOTES + "/{address}",
           delete_remote, 204),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", _SETTINGS,
           fixed("GET", _SETTINGS), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", _SETTINGS,
           fixed("POST", _SETTINGS, {"tag-ttl": 300}), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "PATCH", _SETTINGS,
           fixed("PATCH", _SETTINGS, {"tag-ttl": 300}), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "PUT", _SETTINGS,
           fixed("PUT", _SETTINGS, {"tag-ttl": 300}), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", _CACHE,
           fixed("GET", _CACHE), 200),

    # webhooks: registry admins only
    on_api("401  401  403  403  403  403  401  401  ok", "GET", "/api/v1/webhooks",
           fixed("GET", "/api/v1/webhooks"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "POST", "/api/v1/webhooks",
           post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/", "events": ["tag"]}, "name",
                "mx-made-"), 201),
    on_api("401  401  403  403  403  403  401  401  ok", "GET", "/api/v1/webhooks/{name}",
           on_webhook("GET"), 200),
    on_api("401  401  403  403  403  403  401  401  ok", "DELETE", "/api/v1/webhooks/{name}",
           on_webhook("DELETE"), 204),
    on_api("401  401  403  403  403  403  401  401  ok", "GET",
           "/api/v1/webhooks/{name}/deliveries", on_webhook("GET", "/deliveries"), 200),

    # the audit log: registry admins only
    on_api("401  401  403  403  403  403  401  401  ok", "GET", "/api/v1/audit",
           fixed("GET", "/api/v1/audit?since=1h"), 200),

    # Prometheus metrics: registry admins only (unless metrics_public), answered as /api/v1/
    Row("GET /metrics", fixed("GET", "/metrics"), 200,
           "401  401  403  403  403  403  401  401  ok", route=("GET", "/metrics")),

    # the web console: its page and who-is-signed-in are public; signing in or out needs this
    # registry as Origin (a browser sends it; these clients do not), whatever else they carry
    Row("GET /ui", fixed("GET", "/ui"), 302,
           "ok   ok   ok   ok   ok   ok   ok   ok   ok", route=("GET", "/ui")),
    Row("GET /ui/", fixed("GET", "/ui/"), 200,
           "ok   ok   ok   ok   ok   ok   ok   ok   ok", route=("GET", "/ui/")),
    Row("GET /ui/{path}", fixed("GET", "/ui/js/main.js"), 200,
           "ok   ok   ok   ok   ok   ok   ok   ok   ok", route=("GET", "/ui/{path}")),
    Row("GET /ui/session", fixed("GET", "/ui/session"), 200,
           "ok   ok   ok   ok   ok   ok   ok   ok   ok", route=("GET", "/ui/session")),
    Row("POST /ui/session", fixed("POST", "/ui/session", {"username": "admin"}), 201,
           "403  403  403  403  403  403  403  403  403", route=("POST", "/ui/session")),
    Row("DELETE /ui/session", fixed("DELETE", "/ui/session"), 204,
           "403  403  403  403  403  403  403  403  403", route=("DELETE", "/ui/session")),

    # the OpenAPI document is public, whatever credentials come with the request
    Row("GET /api/v1/openapi.json", fixed("GET", "/api/v1/openapi.json"), 200,
           "ok   ok   ok   ok   ok   ok   ok   ok   ok"),
)
# fmt: on


# -- the principals ----------------------------------------------------------------------


# Session-scoped, not module-scoped: under xdist other modules' tests may run between
# this module's, and pytest would tear a module fixture down and set it up again.
@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    regd = start_regd(tmp_path_factory.mktemp("authz-matrix"))
    opened: list[httpx.Client] = []

    def keep(client: httpx.Client) -> httpx.Client:
        opened.append(client)
        return client

    try:
        admin_basic = keep(regd.client())
        # Set-up and the cells' victims go through an admin token: the cells change
        # passwords and revoke things, which drops every cached password check.
        admin = keep(bearer_client(regd, create_token(admin_basic, "2h", name="set-up")[1]))
        for name in ("mx-viewer", "mx-editor", "mx-bystander"):
            create_user(admin, name, PASSWORDS[name])
        create_user(admin, "mx-pusher", PASSWORDS["mx-pusher"], policies=["registry-push"])
        editor = keep(regd.client(("mx-editor", PASSWORDS["mx-editor"])))
        with regd.client(("mx-bystander", PASSWORDS["mx-bystander"])) as by_password:
            bystander_token, bystander_value = create_token(by_password, "2h", name="bystander's")
        bystander = keep(bearer_client(regd, bystander_value))
        pusher = keep(regd.client(("mx-pusher", PASSWORDS["mx-pusher"])))

        # Made first, so it expires while the rest is set up. Its 5 s leave the first use
        # certainly within its life: that it works is asserted, not excused by the clock.
        _expiring_id, expiring = create_token(editor, ttl="5s", name="expires")
        expired_client = keep(bearer_client(regd, expiring))
        assert expired_client.get("/v2/").status_code == 200, "a fresh token must work"

        images = {
            PRIVATE: push_image(admin, PRIVATE, "base", seed="mx-private"),
            PUBLIC: push_image(admin, PUBLIC, "base", seed="mx-public"),
        }
        assert set_access_rule(admin, PUBLIC, "public", ["pull"]).status_code == 201
        for inner in (PUBLIC_INNER, RULED_INNER):
            push_image(admin, inner, "base", seed=inner)
        ruled = set_access_rule(admin, RULED, "user:mx-viewer", ["pull", "push"])
        assert ruled.status_code == 201, ruled.text
        assert admin.post(_VAULTS, json={"name": VAULT}).status_code == 201
        hub = {"name": "hub", "data": {"username": "robot", "password": "upstream-password"}}
        assert admin.post(f"{_VAULTS}/{VAULT}/secrets", json=hub).status_code == 201
        assert admin.post(_REMOTES, json={"address": REMOTE}).status_code == 201
        bind_role(admin, "registry-viewer", "user:mx-viewer", NAMESPACE)
        bind_role(admin, "registry-editor", "user:mx-editor", NAMESPACE)
        robot_id, robot_secret = create_api_client(
            admin,
            description="pull-only robot",
            grants=[{"capabilities": ["pull"], "repositories": [NAMESPACE, NAMESPACE + "/*"]}],
        )
        admin_robot, _secret = create_api_client(admin, description="admin's robot")
        _push_id, push_token = create_token(pusher, ttl="1h", policies=["registry-push"])
        revoked_id, revoked = create_token(editor, ttl="1h", name="revoked")
        revoked_client = keep(bearer_client(regd, revoked))
        assert revoked_client.get("/v2/").status_code == 200
        assert editor.delete(f"/api/v1/tokens/{revoked_id}").status_code == 204

        wait_until(
            lambda: expired_client.get("/v2/").status_code == 401, 20, "the 5 s token expires"
        )

        def basic(column: str, user: str, secret: str, self_name: str) -> Actor:
            return Actor(column, keep(regd.client((user, secret))), PRIVATE, self_name)

        actors = [
            Actor("anon", keep(client_as(regd, None)), PRIVATE, "admin"),
            Actor("anon-public", keep(client_as(regd, None)), PUBLIC, "admin"),
            basic("viewer", "mx-viewer", PASSWORDS["mx-viewer"], "mx-viewer"),
            basic("editor", "mx-editor", PASSWORDS["mx-editor"], "mx-editor"),
            basic("robot", robot_id, robot_secret, robot_id),
            # docker login with a token: any user name, the token as password
            basic("push-token", "docker", push_token, "mx-pusher"),
            Actor("expired", expired_client, PRIVATE, "mx-editor"),
            Actor("revoked", revoked_client, PRIVATE, "mx-editor"),
            Actor("admin", admin_basic, PRIVATE, "admin"),
        ]
        assert tuple(actor.column for actor in actors) == COLUMNS
        yield World(
            regd,
            admin,
            bystander,
            {actor.column: actor for actor in actors},
            images,
            admin_robot=admin_robot,
            bystander_token=bystander_token,
            clients=opened,
        )
    finally:
        for client in opened:
            client.close()
        assert regd.stop() == 0, regd.log


# -- the verdicts ----------------------------------------------------------------------


def _check_token(row: Row, response: httpx.Response, expected: str, actor: Actor) -> None:
    if expected == "401":
        assert response.status_code == 401, response.text
        assert [e["code"] for e in response.json()["errors"]] == ["UNAUTHORIZED"]
        return
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"] == body["access_token"]
    scope = "registry:catalog" if "catalog" in row.label else f"repository:{actor.repository}"
    want = {} if expected == "-" else {scope: sorted(expected.split(","))}
    assert granted(body["token"]) == want


def _check(row: Row, call: Call, response: httpx.Response, expected: str) -> None:
    on_api = call.path.startswith(("/api/", "/metrics", "/ui/"))
    if expected == "ok":
        assert response.status_code == row.ok, f"{response.status_code} {response.text}"
    elif expected == "401":
        if on_api:
            assert_problem(response, 401)
            assert response.headers["WWW-Authenticate"]
        else:
            assert_v2_unauthorized(response)
    elif expected == "403":
        if on_api:
            assert_problem(response, 403)
        else:
            assert_v2_denied(response)
    elif expected == "404":
        assert on_api, "404 is how /api/v1/ hides what is not yours"
        assert_problem(response, 404)
    else:
        raise AssertionError(f"unknown cell {expected!r} in row {row.label}")


# Principal by principal: a password change or revocation drops every cached credential
# check, and each principal then pays one argon2 hash; in this order it pays it rarely.
CASES = [
    pytest.param(row, column, id=f"{row.label} [{column}]") for column in COLUMNS for row in ROWS
]


@pytest.mark.parametrize(("row", "column"), CASES)
def test_authorization_matrix(world: World, row: Row, column: str) -> None:
    actor = world.actors[column]
    expected = row.expected(column)
    call = row.build(world, actor, f"{ROWS.index(row)}-{column}", expected == "ok")
    response = actor.client.request(
        call.method, call.path, json=call.json, content=call.content, headers=call.headers
    )
    if row.kind == "token":
        _check_token(row, response, expected, actor)
    else:
        _check(row, call, response, expected)


# -- the table covers every route ----------------------------------------------------------


def test_every_row_has_one_cell_per_principal() -> None:
    for row in ROWS:
        assert len(row.cells.split()) == len(COLUMNS), row.label
    assert len({row.label for row in ROWS}) == len(ROWS), "row labels are distinct"


def test_every_api_v1_route_has_a_row() -> None:
    """A new /api/v1/ route without a row here fails this test."""
    # Compared as the OpenAPI document names them: a path parameter's regex is no matter.
    routes = {(route.method, openapi_path(route.path)) for route in api.ROUTES}
    rows = {
        (row.route[0], openapi_path(row.route[1]))
        for row in ROWS
        if row.route and row.route[1].startswith("/api/")
    }
    assert sorted(routes - rows) == [], "routes without a row in the matrix"
    assert sorted(rows - routes) == [], "rows for routes that do not exist"


def _spec_route(method: str, path: str) -> bool:
    """A /v2/ or /token route; HEAD only where the spec has one (aiohttp adds one per GET)."""
    if not path.startswith(("/v2", "/token", "/metrics")):
        return False
    blob = "/blobs/" in path and "/uploads" not in path
    return method != "HEAD" or "/manifests/" in path or blob


def test_every_v2_and_token_route_has_a_row() -> None:
    app = build_app(Settings())
    served = {
        (route.method, openapi_path(route.resource.canonical))
        for route in app.router.routes()
        if route.resource is not None and _spec_route(route.method, route.resource.canonical)
    }
    served.discard(("POST", "/token"))  # the OAuth2 form: tests/api/test_token_service.py
    rows = {
        row.route for row in ROWS if row.route and not row.route[1].startswith(("/api/", "/ui"))
    }
    assert sorted(served - rows) == [], "routes without a row in the matrix"
    assert sorted(rows - served) == [], "rows for routes that do not exist"


def test_every_console_route_has_a_row() -> None:
    app = build_app(Settings())
    served = {
        (route.method, re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.resource.canonical))
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/ui")
        and route.method != "HEAD"
    }
    rows = {row.route for row in ROWS if row.route and row.route[1].startswith("/ui")}
    assert sorted(served ^ rows) == [], "console routes and rows differ"
