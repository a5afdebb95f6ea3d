"""Real clients against regd's identities and access control.

docker logs in with a user's password, an API client's id and secret, and a personal access
token, and keeps the refresh token regd gives it; skopeo, podman and the ORAS SDK push and
pull as a user holding ``registry-push``; anonymous clients read a repository with a ``public``
access rule and nothing else; an API client that may only pull is refused a push (403 DENIED);
a registry-editor role binding opens one namespace; a wrong password is refused at login.

The tests share one regd (hence one xdist group) and each uses repositories and names of its
own. The regd logs every request, so a test can see which token flow a client used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.accounts import (
    Account,
    add_access_rule,
    bind_role,
    create_api_client,
    create_token,
    create_user,
    revoke_token,
)
from tests.e2e.clients import (
    Skopeo,
    basic_auth_parts,
    make_docker,
    make_podman,
    make_skopeo,
    oras_client,
    oras_token_for_push,
)
from tests.e2e.conftest import Access, accesses, require, sync_log, write_policy
from tests.support.images import (
    LayoutImage,
    push_layout_image,
    read_layout_manifest,
    write_image_layout,
)
from tests.support.oci import OCI_MANIFEST
from tests.support.server import RegdProcess, start_regd

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("auth-clients")]


@pytest.fixture(scope="module")
def auth_regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    """The regd of this module's tests, logging every request."""
    server = start_regd(tmp_path_factory.mktemp("auth-regd"), "--access-log")
    yield server
    assert server.stop() == 0, server.log


def _seed(regd: RegdProcess, directory: Path, name: str, tag: str = "1.0") -> LayoutImage:
    """An image of its own (seeded by ``name``), pushed to ``name:tag`` as admin."""
    image = write_image_layout(directory, tag, seed=name)
    with regd.client() as http:
        push_layout_image(http, image, name, tag)
    return image


def _requests_during(regd: RegdProcess, start: int) -> list[Access]:
    """The requests regd answered since its log had ``start`` lines."""
    return accesses(regd.log_lines[start : sync_log(regd)])


def _manifest_of(regd: RegdProcess, name: str, tag: str) -> httpx.Response:
    with regd.client() as http:
        return http.get(f"/v2/{name}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})


# -- docker login: password, API client, personal access token ---------------------------


def _docker_account(regd: RegdProcess, kind: str, repository: str) -> Account:
    """Credentials of ``kind`` that may pull ``repository``."""
    if kind == "password":
        return create_user(regd, "docker-dora", "registry-pull")
    if kind == "api-client":
        return create_api_client(regd, ["pull"], [repository])
    owner = create_user(regd, "docker-tomas", "registry-push")
    token = create_token(regd, owner, "registry-pull")
    # Any user name goes with a personal access token.
    return Account("anything", token.value)


@pytest.mark.parametrize("kind", ["password", "api-client", "personal-token"])
def test_docker_login_then_manifest_inspect(
    kind: str, docker: str, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    name = f"auth/docker-{kind}/app"
    image = _seed(auth_regd, tmp_path / "layout", name)
    account = _docker_account(auth_regd, kind, name)
    client = make_docker(docker, tmp_path / "docker-config")

    login = client.login(auth_regd.host, account.name, account.secret)
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Login Succeeded" in login.stdout

    # docker asked for a refresh token at login (offline_token=true) and keeps it as its
    # identity token, instead of the secret.
    stored = client.stored_login(auth_regd.host)
    assert stored.get("identitytoken", "").startswith("regd_"), stored
    assert basic_auth_parts(stored) == (account.name, ""), stored
    assert account.secret not in (client.config_dir / "config.json").read_text()

    start = sync_log(auth_regd)
    shown = client.manifest(f"{auth_regd.host}/{name}:1.0")
    assert shown == json.loads(image.manifest)
    # The identity token, not the secret, got docker its registry token: the OAuth2 refresh
    # grant (POST), never Basic credentials (GET).
    tokens = [access for access in _requests_during(auth_regd, start) if access.path == "/token"]
    assert [(access.method, access.status) for access in tokens] == [("POST", 200)], tokens


def test_docker_login_ends_when_its_personal_token_is_revoked(
    docker: str, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    name = "auth/docker-revoked/app"
    _seed(auth_regd, tmp_path / "layout", name)
    owner = create_user(auth_regd, "docker-rita", "registry-push")
    token = create_token(auth_regd, owner, "registry-pull")
    client = make_docker(docker, tmp_path / "docker-config")
    login = client.login(auth_regd.host, "anything", token.value)
    assert login.returncode == 0, login.stdout + login.stderr
    reference = f"{auth_regd.host}/{name}:1.0"
    client.manifest(reference)

    revoke_token(auth_regd, owner, token.id)

    after = client.result("manifest", "inspect", "--insecure", reference)
    output = after.stdout + after.stderr
    # A regression here (the refresh token minted at docker login outliving the revoked
    # PAT it came from) must fail, not pass as an expected failure.
    assert after.returncode != 0, output
    assert "unauthorized" in output.lower(), output


def test_docker_is_logged_out_when_its_identity_token_is_revoked(
    docker: str, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    name = "auth/docker-logged-out/app"
    _seed(auth_regd, tmp_path / "layout", name)
    user = create_user(auth_regd, "docker-lou", "registry-pull")
    client = make_docker(docker, tmp_path / "docker-config")
    login = client.login(auth_regd.host, user.name, user.secret)
    assert login.returncode == 0, login.stdout + login.stderr
    reference = f"{auth_regd.host}/{name}:1.0"
    client.manifest(reference)

    # The identity token is a regd token (regd_<accessor>_<secret>): its owner revokes it.
    accessor = client.stored_login(auth_regd.host)["identitytoken"].split("_")[1]
    revoke_token(auth_regd, user, accessor)

    after = client.result("manifest", "inspect", "--insecure", reference)
    output = after.stdout + after.stderr
    assert after.returncode != 0, output
    assert "unauthorized" in output.lower(), output


def test_docker_login_with_a_wrong_password_fails(
    docker: str, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    user = create_user(auth_regd, "docker-wanda", "registry-pull")
    client = make_docker(docker, tmp_path / "docker-config")

    login = client.login(auth_regd.host, user.name, "not-the-password")

    output = login.stdout + login.stderr
    assert login.returncode != 0, output
    assert "unauthorized" in output.lower(), output
    assert "Login Succeeded" not in output
    config = client.config_dir / "config.json"
    stored = json.loads(config.read_text()) if config.exists() else {}
    assert auth_regd.host not in stored.get("auths", {}), stored


# -- skopeo, podman, ORAS as a user with registry-push -----------------------------------


@pytest.fixture
def skopeo_client(skopeo: str, tmp_path: Path, auth_regd: RegdProcess) -> Skopeo:
    """skopeo, anonymous until given credentials with ``as_()``."""
    return make_skopeo(skopeo, tmp_path / "skopeo", auth_regd)


def test_skopeo_push_and_pull_with_registry_push(
    skopeo_client: Skopeo, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    name = "auth/skopeo/app"
    user = create_user(auth_regd, "skopeo-sam", "registry-push")
    client = skopeo_client.as_(user.creds)
    image = write_image_layout(tmp_path / "src", "1.0", seed=name)

    client.push(image, name, "1.0")
    stored = _manifest_of(auth_regd, name, "1.0")
    assert stored.status_code == 200, stored.text
    assert stored.content == image.manifest

    back = tmp_path / "back"
    client.pull(name, "1.0", back)
    assert read_layout_manifest(back, "1.0") == (image.digest, image.manifest)
    info = json.loads(client("inspect", *client.remote, client.ref(name, "1.0")))
    assert info["Digest"] == image.digest

    # registry-push does not include delete: regd says 403 DENIED.
    refused = client.failing("delete", *client.remote, client.ref(name, "1.0"))
    assert "denied" in refused.lower(), refused
    assert _manifest_of(auth_regd, name, "1.0").status_code == 200


def test_podman_push_and_pull_with_registry_push(
    podman: str, podman_root: Path, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    require(os.geteuid() == 0, "the podman test runs podman as root")
    name = "auth/podman/app"
    user = create_user(auth_regd, "podman-pat", "registry-push")
    client = make_podman(podman, podman_root, auth_regd.host)
    policy = write_policy(tmp_path)
    image = write_image_layout(tmp_path / "layout", "1.0", seed=name)
    target = f"{auth_regd.host}/{name}:1.0"
    remote: list[str | Path] = [
        "--creds",
        user.creds,
        "--tls-verify=false",
        "--signature-policy",
        policy,
    ]

    image_id = client("pull", "--quiet", "--signature-policy", policy, image.reference)
    client("tag", image_id, target)
    digest_file = tmp_path / "pushed-digest"
    client("push", *remote, "--digestfile", digest_file, target)
    pushed = _manifest_of(auth_regd, name, "1.0")
    assert pushed.status_code == 200, pushed.text
    assert pushed.headers["Docker-Content-Digest"] == digest_file.read_text().strip()

    client("rmi", "--all", "--force")
    assert client("pull", "--quiet", *remote, target) == image_id
    # Nothing was written to the auth file: --creds is for one command.
    assert json.loads(client.auth_file.read_text()) == {"auths": {}}


def test_oras_push_and_pull_with_registry_push(auth_regd: RegdProcess, tmp_path: Path) -> None:
    name = "auth/oras/app"
    user = create_user(auth_regd, "oras-olga", "registry-push")
    source = tmp_path / "artifact"
    source.mkdir()
    payload = source / "payload.bin"
    payload.write_bytes(os.urandom(2048))
    target = f"{auth_regd.host}/{name}:v1"
    start = sync_log(auth_regd)

    client = oras_client(auth_regd, user.name, user.secret, tmp_path / "docker-config.json")
    oras_token_for_push(client, auth_regd, name)
    pushed = client.push(target=target, files=[str(payload)], disable_path_validation=True)
    assert pushed.status_code == 201, pushed.text
    out = tmp_path / "pulled"
    files = client.pull(target=target, outdir=str(out))
    assert [Path(file).name for file in files] == ["payload.bin"]
    assert (out / "payload.bin").read_bytes() == payload.read_bytes()

    seen = _requests_during(auth_regd, start)
    tokens = [access for access in seen if access.path == "/token"]
    assert [(t.method, t.status, t.user_agent) for t in tokens] == [("GET", 200, "oras-py")], seen
    after = seen[seen.index(tokens[0]) + 1 :]
    assert all(access.status not in (401, 403) for access in after), after


# -- anonymous: public repositories only -------------------------------------------------


def test_anonymous_reads_public_repositories_only(
    skopeo_client: Skopeo, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    public, private = "auth/anon-public/app", "auth/anon-private/app"
    image = _seed(auth_regd, tmp_path / "public", public)
    _seed(auth_regd, tmp_path / "private", private)
    add_access_rule(auth_regd, public, "public", "pull")
    anonymous = skopeo_client.as_(None)

    info = json.loads(anonymous("inspect", *anonymous.remote, anonymous.ref(public, "1.0")))
    assert info["Digest"] == image.digest
    back = tmp_path / "back"
    anonymous.pull(public, "1.0", back)
    assert read_layout_manifest(back, "1.0") == (image.digest, image.manifest)

    for refused in (
        anonymous.failing("inspect", *anonymous.remote, anonymous.ref(private, "1.0")),
        anonymous.failing(
            "copy", *anonymous.src, anonymous.ref(private, "1.0"), f"oci:{tmp_path / 'no'}:1.0"
        ),
    ):
        assert "unauthorized" in refused.lower() or "authentication required" in refused.lower(), (
            refused
        )

    # A public rule grants pull and nothing else.
    pushed = write_image_layout(tmp_path / "push", "2.0", seed="auth-anon-push")
    refused = anonymous.failing(
        "copy", *anonymous.dest, pushed.reference, anonymous.ref(public, "2.0")
    )
    assert "unauthorized" in refused.lower() or "authentication required" in refused.lower(), (
        refused
    )
    assert _manifest_of(auth_regd, public, "2.0").status_code == 404


# -- an API client that may only pull ----------------------------------------------------


def test_pull_only_api_client_is_denied_a_push(
    skopeo_client: Skopeo, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    name = "auth/robot/app"
    image = _seed(auth_regd, tmp_path / "seeded", name)
    robot = create_api_client(auth_regd, ["pull"], ["auth/robot/*"])
    client = skopeo_client.as_(robot.creds)

    back = tmp_path / "back"
    client.pull(name, "1.0", back)
    assert read_layout_manifest(back, "1.0") == (image.digest, image.manifest)

    other = write_image_layout(tmp_path / "other", "2.0", seed="auth-robot-push")
    start = sync_log(auth_regd)
    refused = client.failing("copy", *client.dest, other.reference, client.ref(name, "2.0"))
    assert "denied" in refused.lower(), refused
    seen = _requests_during(auth_regd, start)
    uploads = [a for a in seen if a.method == "POST" and a.path == f"/v2/{name}/blobs/uploads/"]
    assert uploads, seen
    assert {access.status for access in uploads} == {403}, uploads
    assert _manifest_of(auth_regd, name, "2.0").status_code == 404


# -- a role binding on a namespace -------------------------------------------------------


def test_registry_editor_pushes_in_its_namespace_only(
    skopeo_client: Skopeo, auth_regd: RegdProcess, tmp_path: Path
) -> None:
    user = create_user(auth_regd, "editor-ed")
    bind_role(auth_regd, "registry-editor", f"user:{user.name}", "auth/team")
    client = skopeo_client.as_(user.creds)
    image = write_image_layout(tmp_path / "src", "1.0", seed="auth-team")

    client.push(image, "auth/team/app", "1.0")
    assert _manifest_of(auth_regd, "auth/team/app", "1.0").content == image.manifest

    start = sync_log(auth_regd)
    refused = client.failing(
        "copy", *client.dest, image.reference, client.ref("auth/else/app", "1")
    )
    # skopeo's first request there is a HEAD of a blob: a 403 without a body to quote.
    assert "403 (forbidden)" in refused.lower(), refused
    elsewhere = [a for a in _requests_during(auth_regd, start) if a.path.startswith("/v2/auth/")]
    assert elsewhere, refused
    assert {access.status for access in elsewhere} == {403}, elsewhere
    assert _manifest_of(auth_regd, "auth/else/app", "1").status_code == 404
