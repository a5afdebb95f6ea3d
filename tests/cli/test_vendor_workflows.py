"""The vendors' own workflows, word for word through regctl (issue 11): Brightbox's
repositories and access rules, APPUiO/OpenShift's service accounts, and what anyone may
grant. OpenSVC's secrets are in test_strongbox.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.cli.conftest import Regctl, need
from tests.support.identities import assert_v2_denied, assert_v2_unauthorized
from tests.support.images import write_image_layout
from tests.support.oci import push_image
from tests.support.server import RegdProcess

pytestmark = pytest.mark.api_v1


def _user(admin: Regctl, name: str, *policies: str) -> dict[str, str]:
    """A new user (password NAME-password); the environment that makes regctl it."""
    args = ["--policies", ",".join(policies)] if policies else []
    made = admin("users", "create", name, "--password-stdin", *args, input=f"{name}-password")
    assert made.code == 0, made.stderr
    return {"REGCTL_USERNAME": name, "REGCTL_PASSWORD": f"{name}-password"}


def _basic(config: dict[str, object], host: str) -> tuple[str, str]:
    """The user name and secret in a config.json's entry for ``host``."""
    entry = config["auths"][host]  # type: ignore[index]
    user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
    return user, secret


# -- Brightbox: a repository and the images inside it ---------------------------------------


@pytest.mark.e2e
def test_brightbox_repository_access_rule_and_new_api_client(
    admin: Regctl, regd: RegdProcess, http: httpx.Client, tmp_path: Path
) -> None:
    need("docker")
    owner = _user(admin, "bb-owner", "registry-push")
    made = admin("repositories", "create", "bb-acc/myapp", env=owner)
    assert made.code == 0, made.stderr
    assert json.loads(made.stdout)["name"] == "bb-acc/myapp"
    assert admin("repositories", "create", "bb-acc/myapp", env=owner).code != 0  # exists
    image = push_image(http, "bb-acc/myapp/myapp", "1.0", seed="bb-myapp")
    push_image(http, "bb-acc/myapp/a/b", "1.0", seed="bb-deep")
    push_image(http, "bb-acc/other", "1.0", seed="bb-other")

    # "Add Access Rule": one command, a new pull-only client, its credentials at once.
    added = admin(
        "repositories", "access-rules", "add", "bb-acc/myapp", "--new-api-client", "deploy",
        "-o", "docker-config", env=owner,
    )  # fmt: skip
    assert added.code == 0, added.stderr
    config = json.loads(added.stdout)
    client_id, secret = _basic(config, regd.host)
    assert f"created API client {client_id}: its secret is shown once" in added.stderr
    admin.docker_config.parent.mkdir(parents=True)
    admin.docker_config.write_text(added.stdout)
    pulled = admin.run(
        "docker", "manifest", "inspect", "--insecure", f"{regd.host}/bb-acc/myapp/myapp:1.0"
    )
    assert pulled.code == 0, pulled.stderr
    assert json.loads(pulled.stdout)["layers"] == json.loads(image.manifest)["layers"]
    with regd.client((client_id, secret)) as robot:
        # The rule on bb-acc/myapp covers every image below it, and nothing beside it.
        assert robot.get("/v2/bb-acc/myapp/a/b/manifests/1.0").status_code == 200
        assert_v2_denied(robot.get("/v2/bb-acc/other/manifests/1.0"))
        assert_v2_denied(robot.post("/v2/bb-acc/myapp/myapp/blobs/uploads/"))  # pull only
    # A pull-only client pushing is told "denied" (docs/security.md: denied, not 401).
    layout = write_image_layout(tmp_path / "layout", seed="bb-denied")
    pushed = admin.run(
        need("skopeo"), "--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds",
        f"{client_id}:{secret}", layout.reference, f"docker://{regd.host}/bb-acc/myapp/myapp:2.0",
    )  # fmt: skip
    assert pushed.code != 0
    assert "denied" in pushed.stderr, pushed.stderr
    assert "authentication required" not in pushed.stderr
    rules = json.loads(
        admin("repositories", "access-rules", "list", "bb-acc/myapp", env=owner).stdout
    )
    assert rules == [{"principal": f"api-client:{client_id}", "actions": ["pull"]}]
    client = json.loads(admin("api-clients", "show", client_id, env=owner).stdout)
    assert (client["description"], client["owner"]) == ("deploy", "bb-owner")

    # The other forms: a Kubernetes Secret, an environment, the rule with the client.
    k8s = admin(
        "repos", "access-rules", "add", "bb-acc/myapp", "--new-api-client", "k8s",
        "--actions", "pull,push", "-o", "k8s-secret", "--secret-name", "regcred", env=owner,
    )  # fmt: skip
    assert k8s.code == 0, k8s.stderr
    secret_doc = yaml.safe_load(k8s.stdout)
    assert (secret_doc["kind"], secret_doc["metadata"]) == ("Secret", {"name": "regcred"})
    inner = json.loads(base64.b64decode(secret_doc["data"][".dockerconfigjson"]))
    k8s_id, k8s_secret = _basic(inner, regd.host)
    with regd.client((k8s_id, k8s_secret)) as pusher:
        assert pusher.post("/v2/bb-acc/myapp/new/blobs/uploads/").status_code == 202
    env = admin(
        "repos", "access-rules", "add", "bb-acc/myapp", "--new-api-client", "shell", "-o", "env",
        env=owner,
    )  # fmt: skip
    whoami = admin.shell(
        'set -a; eval "$CREDENTIALS"; set +a; regctl whoami', {"CREDENTIALS": env.stdout}
    )
    assert whoami.stdout.startswith("cli-"), whoami.stderr
    as_json = admin(
        "repos", "access-rules", "add", "bb-acc/myapp", "--new-api-client", "json", "-o", "json",
        env=owner,
    )  # fmt: skip
    body = json.loads(as_json.stdout)
    assert body["actions"] == ["pull"]
    assert body["principal"] == f"api-client:{body['api-client']['id']}"
    assert len(body["api-client"]["secret"]) >= 32

    # The public rule reaches the images below too.
    with regd.client(auth=None) as anonymous:
        assert_v2_unauthorized(anonymous.get("/v2/bb-acc/myapp/myapp/manifests/1.0"))
        public = admin("repositories", "access-rules", "add", "bb-acc/myapp", "public", env=owner)
        assert json.loads(public.stdout) == {"principal": "public", "actions": ["pull"]}
        assert anonymous.get("/v2/bb-acc/myapp/myapp/manifests/1.0").status_code == 200
        assert_v2_unauthorized(anonymous.get("/v2/bb-acc/other/manifests/1.0"))

    # A principal or a name that does not exist: 404 (exit 3), nothing stored.
    both = admin("repos", "access-rules", "add", "bb-acc/myapp", "public", "--new-api-client", "x")
    assert both.code == 2
    for args, message in (
        (("bb-acc/myapp", "nobody"), "no user 'nobody'"),
        (("bb-acc/myapp", "cli-zzzzz"), "no API client 'cli-zzzzz'"),
        (("bb-acc/nothing", "public"), "no repository 'bb-acc/nothing'"),
    ):
        refused = admin("repositories", "access-rules", "add", *args)
        assert refused.code == 3, refused.stderr
        assert message in refused.error_lines[0]
    assert len(json.loads(admin("repos", "access-rules", "list", "bb-acc/myapp").stdout)) == 5
    # Creating a repository needs push there.
    nobody = _user(admin, "bb-reader")
    assert admin("repositories", "create", "bb-acc/mine", env=nobody).code == 4


def test_grants_to_principals_that_do_not_exist_are_refused(admin: Regctl) -> None:
    refused = admin("role-bindings", "add", "registry-editor", "bb-ghost", "-n", "bb-y")
    assert refused.code == 3
    assert "no user 'bb-ghost'" in refused.error_lines[0]
    assert admin("role-bindings", "add", "registry-viewer", "cli-qqqqq", "-n", "bb-y").code == 3
    bound = json.loads(admin("role-bindings", "list").stdout)
    assert not [b for b in bound if b["namespace"] == "bb-y"]
    # So a user created later under that name starts with nothing.
    ghost = _user(admin, "bb-ghost")
    assert admin("tags", "list", "bb-y/app", env=ghost).code == 4
    assert (
        admin("do", "policies", "registry-pull", "bindings", "--principal", "user:bb-none").code
        == 3
    )


# -- what anyone may grant an API client ------------------------------------------------------

#: (how the creator holds its rights, what it grants: held, what it grants: not held)
GRANTERS = [
    pytest.param(("role", "registry-viewer"), "pull:gr-{n}/*", "pull,push:gr-{n}/*", id="viewer"),
    pytest.param(
        ("role", "registry-editor"), "pull,push:gr-{n}/*", "pull,push,delete:gr-{n}/*", id="editor"
    ),
    pytest.param(("policy", "registry-pull"), "pull:*", "push:gr-{n}/*", id="registry-pull"),
    pytest.param(("policy", "registry-push"), "pull,push:*", "delete:*", id="registry-push"),
    pytest.param(("policy", "registry-delete"), "pull,delete:gr-{n}/*", "push:*", id="delete"),
    pytest.param(("policy", "registry-admin"), "pull,push,delete,admin:*", "strongbox-read:*"),
    pytest.param(("policy", "strongbox-read"), "strongbox-read:gr-{n}", "strongbox-write:gr-{n}"),
    pytest.param(("policy", "strongbox-write"), "strongbox-read,strongbox-write:*", "pull:*"),
]


@pytest.mark.parametrize(("holding", "held", "beyond"), GRANTERS)
def test_an_api_client_gets_what_its_creator_holds_and_no_more(
    admin: Regctl, holding: tuple[str, str], held: str, beyond: str
) -> None:
    kind, name = holding
    n = name.replace("registry-", "").replace("strongbox-", "sb-")
    user = f"gr-{n}"
    creator = _user(admin, user, *([name] if kind == "policy" else []))
    if kind == "role":
        assert admin("role-bindings", "add", name, user, "-n", f"gr-{n}").code == 0
    made = admin("api-clients", "create", "--grant", held.format(n=n), env=creator)
    assert made.code == 0, made.stderr
    client = json.loads(made.stdout)
    capabilities, _, glob = held.format(n=n).partition(":")
    assert client["grants"] == [
        {"capabilities": sorted(capabilities.split(",")), "repositories": [glob]}
    ]
    refused = admin("api-clients", "create", "--grant", beyond.format(n=n), env=creator)
    assert refused.code == 4, refused.stderr
    assert "may not grant" in refused.error_lines[0]


def test_an_api_client_without_grants_holds_nothing(
    admin: Regctl, regd: RegdProcess, http: httpx.Client
) -> None:
    push_image(http, "gr-none/app", "1.0", seed="gr-none")
    help_text = admin("api-clients", "create", "--help").stdout
    assert "A new client holds nothing until granted" in " ".join(help_text.split())
    made = json.loads(admin("api-clients", "create", "--description", "bare").stdout)
    with regd.client((made["id"], made["secret"])) as robot:
        assert robot.get("/v2/").status_code == 200
        assert_v2_denied(robot.get("/v2/gr-none/app/manifests/1.0"))


# -- APPUiO / OpenShift: service accounts -----------------------------------------------------


@pytest.mark.e2e
def test_openshift_service_account_token_and_one_view_of_bindings(
    admin: Regctl, regd: RegdProcess, http: httpx.Client
) -> None:
    skopeo = need("skopeo")
    push_image(http, "sa-project/app", "1.0", seed="sa-project")
    made = admin("api-clients", "create", "--role", "registry-editor", "-n", "sa-project")
    assert made.code == 0, made.stderr
    client_id, client_secret = json.loads(made.stdout)["id"], json.loads(made.stdout)["secret"]
    bindings = json.loads(admin("role-bindings", "list").stdout)
    binding = {
        "role": "registry-editor",
        "principal": f"api-client:{client_id}",
        "namespace": "sa-project",
    }
    assert binding in bindings

    # The admin mints the service account's token without its secret...
    minted = admin(
        "tokens", "create", "--for", client_id, "--ttl", "1h", "--name", "ci", "-o", "json"
    )
    assert minted.code == 0, minted.stderr
    token = json.loads(minted.stdout)
    assert token["principal"] == f"api-client:{client_id}"
    # ... and CI logs in with it under any user name, as with the client's own secret.
    auth = admin.env["HOME"] + "/auth.json"
    for password in (token["token"], client_secret):
        login = admin.run(
            skopeo, "login", "--tls-verify=false", "--authfile", auth, "-u", "serviceaccount",
            "--password-stdin", regd.host, input=password,
        )  # fmt: skip
        assert login.code == 0, login.stderr
        inspected = admin.run(
            skopeo, "inspect", "--tls-verify=false", "--authfile", auth, "--raw",
            f"docker://{regd.host}/sa-project/app:1.0",
        )  # fmt: skip
        assert inspected.code == 0, inspected.stderr
    with regd.client(("anything", client_secret)) as robot:
        assert robot.post("/v2/sa-project/app/blobs/uploads/").status_code == 202
        assert_v2_denied(robot.post("/v2/sa-elsewhere/blobs/uploads/"))
    with regd.client(("anything", "not-a-client-secret-" + "x" * 12)) as wrong:
        assert_v2_unauthorized(wrong.get("/v2/sa-project/app/manifests/1.0"))
    # Audited; the token's value is never logged.
    assert f"minted for api-client:{client_id} by user:admin" in regd.log
    assert token["token"] not in regd.log

    # Only its owner or a registry admin mints them: to others the client does not exist.
    other = _user(admin, "sa-other", "registry-push")
    refused = admin("tokens", "create", "--for", client_id, "--ttl", "1h", env=other)
    assert refused.code == 3
    assert f"no API client '{client_id}'" in refused.error_lines[0]
