"""Users, API clients (and their credentials for docker and Kubernetes), policies, role
bindings and access rules, against a real regd."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
import yaml

from tests.cli.conftest import Regctl, need
from tests.support.oci import push_image
from tests.support.server import RegdProcess

pytestmark = pytest.mark.api_v1


def test_users(admin: Regctl, regd: RegdProcess) -> None:
    created = admin(
        "users",
        "create",
        "cli-caroline",
        "--password-stdin",
        "--policies",
        "registry-pull,registry-push",
        input="carol-password-1\n",
    )
    assert created.code == 0, created.stderr
    assert json.loads(created.stdout)["policies"] == ["registry-pull", "registry-push"]
    assert "cli-caroline" in [u["name"] for u in json.loads(admin("users", "list").stdout)]
    table = admin("users", "list", "-o", "table")
    assert table.stdout.splitlines()[0].split() == ["NAME", "ADMIN", "POLICIES", "CREATED"]

    carol = {"REGCTL_USERNAME": "cli-caroline", "REGCTL_PASSWORD": "carol-password-1"}
    assert admin("whoami", env=carol).stdout == "cli-caroline\n"
    # carol changes her own password (NAME defaults to the caller)...
    changed = admin("users", "passwd", "--password-stdin", input="carol-password-2", env=carol)
    assert changed.code == 0, changed.stderr
    assert changed.stderr == "regctl: changed the password of cli-caroline\n"
    assert admin("whoami", env=carol).code == 4
    carol["REGCTL_PASSWORD"] = "carol-password-2"
    shown = admin("users", "show", "cli-caroline", "-o", "yaml", env=carol)
    assert yaml.safe_load(shown.stdout)["name"] == "cli-caroline"
    # ... but may not list everyone.
    assert admin("users", "list", env=carol).code == 4

    assert admin("users", "create", "cli-nopass").code == 2  # no password on a pipe
    assert admin("users", "delete", "cli-caroline").stderr == "regctl: deleted user cli-caroline\n"
    assert admin("users", "show", "cli-caroline").code == 3


@pytest.mark.e2e
def test_api_client_credentials_for_docker_kubernetes_and_the_shell(
    admin: Regctl, regd: RegdProcess, http: httpx.Client
) -> None:
    need("docker")
    image = push_image(http, "cli-robots/app", "1.0", seed="cli-robots")
    created = admin(
        "api-clients", "create", "--description", "ci", "--role", "registry-viewer",
        "-n", "cli-robots",
    )  # fmt: skip
    assert created.code == 0, created.stderr
    client = json.loads(created.stdout)
    client_id, secret = client["id"], client["secret"]
    assert client_id.startswith("cli-")
    assert f"regctl: created API client {client_id}: its secret is shown once" in created.stderr
    shown = json.loads(admin("api-clients", "show", client_id).stdout)
    assert shown["namespace"] == "cli-robots"
    assert "secret" not in shown
    assert client_id in admin("api-clients", "list", "-o", "name").stdout.split()

    # env: the robot's own regctl session.
    env = admin(
        "api-clients", "credentials", client_id, "--secret-stdin", "-o", "env", input=secret
    )
    assert env.stdout == (
        f"REGCTL_SERVER={regd.url}\nREGCTL_USERNAME={client_id}\nREGCTL_PASSWORD={secret}\n"
    )
    robot = admin.shell(
        'set -a; eval "$CREDENTIALS"; set +a; regctl whoami', {"CREDENTIALS": env.stdout}
    )
    assert robot.stdout == f"{client_id}\n", robot.stderr

    # docker-config: docker pulls with it.
    config = admin("api-clients", "credentials", client_id, "--secret-stdin", input=secret)
    assert json.loads(config.stdout) == {
        "auths": {regd.host: {"auth": base64.b64encode(f"{client_id}:{secret}".encode()).decode()}}
    }
    admin.docker_config.parent.mkdir(parents=True)
    admin.docker_config.write_text(config.stdout)
    reference = f"{regd.host}/cli-robots/app:1.0"
    pulled = admin.run("docker", "manifest", "inspect", "--insecure", reference)
    assert pulled.code == 0, pulled.stderr
    assert json.loads(pulled.stdout)["layers"] == json.loads(image.manifest)["layers"]

    # k8s-secret: what kubectl create secret docker-registry prints.
    k8s = admin(
        "api-clients", "credentials", client_id, "--secret-stdin", "-o", "k8s-secret",
        "--secret-name", "pull", "--registry", "reg.example.com:5000", input=secret,
    )  # fmt: skip
    assert k8s.code == 0, k8s.stderr
    kubectl = need("kubectl")
    reference_secret = admin.run(
        kubectl, "create", "secret", "docker-registry", "pull", "--docker-server",
        "reg.example.com:5000", "--docker-username", client_id, "--docker-password", secret,
        "--dry-run=client", "-o", "yaml",
    )  # fmt: skip
    assert reference_secret.code == 0, reference_secret.stderr
    assert k8s.stdout == reference_secret.stdout.replace("  creationTimestamp: null\n", "")

    # reset-secret: the old secret stops working; the new one comes as docker-config.
    reset = admin("api-clients", "reset-secret", client_id, "-o", "docker-config")
    assert reset.code == 0, reset.stderr
    [entry] = json.loads(reset.stdout)["auths"].values()
    new_secret = base64.b64decode(entry["auth"]).decode().partition(":")[2]
    assert new_secret != secret
    old = admin("api-clients", "credentials", client_id, "--secret-stdin", input=secret)
    assert old.code == 4
    assert f"refused {client_id} with this secret" in old.error_lines[0]
    admin.docker_config.write_text(reset.stdout)
    assert admin.run("docker", "manifest", "inspect", "--insecure", reference).code == 0

    assert admin("api-clients", "delete", client_id).code == 0
    assert admin("api-clients", "show", client_id).code == 3
    assert admin("api-clients", "credentials", client_id).code == 2  # no --secret-stdin


def test_api_client_create_as_k8s_secret(admin: Regctl, regd: RegdProcess) -> None:
    created = admin("api-clients", "create", "--grant", "pull:cli-k8s/*", "-o", "k8s-secret")
    assert created.code == 0, created.stderr
    secret = yaml.safe_load(created.stdout)
    assert list(secret) == ["apiVersion", "data", "kind", "metadata", "type"]
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    [(host, entry)] = config["auths"].items()
    assert host == regd.host
    assert list(entry) == ["username", "password", "auth"]
    assert secret["metadata"] == {"name": entry["username"]}
    shown = json.loads(admin("api-clients", "show", entry["username"]).stdout)
    assert shown["grants"] == [{"capabilities": ["pull"], "repositories": ["cli-k8s/*"]}]
    assert admin("api-clients", "delete", entry["username"], "-q").code == 0
    bad = admin("api-clients", "create", "--grant", "pull")
    assert bad.code == 2
    assert "CAPABILITIES:GLOB" in bad.error_lines[0]


def test_policies_role_bindings_and_access_rules(
    admin: Regctl, regd: RegdProcess, http: httpx.Client
) -> None:
    policies = json.loads(admin("policies", "list").stdout)
    assert {"registry-pull", "registry-push"} <= {p["name"] for p in policies}
    push = yaml.safe_load(admin("policies", "show", "registry-push", "-o", "yaml").stdout)
    assert push["builtin"] is True
    assert admin("policies", "show", "no-such-policy").code == 3

    admin("users", "create", "cli-dave", "--password-stdin", input="dave-password-1")
    bound = admin("role-bindings", "add", "registry-editor", "cli-dave", "-n", "cli-team/sub")
    assert bound.code == 0, bound.stderr
    binding = {"role": "registry-editor", "principal": "user:cli-dave", "namespace": "cli-team/sub"}
    assert json.loads(bound.stdout) == binding
    assert binding in json.loads(admin("role-bindings", "list").stdout)
    dave = {"REGCTL_USERNAME": "cli-dave", "REGCTL_PASSWORD": "dave-password-1"}
    push_image(http, "cli-team/sub/app", "1.0", seed="cli-team")
    assert admin("tags", "list", "cli-team/sub/app", env=dave).code == 0
    removed = admin(
        "role-bindings", "remove", "registry-editor", "user:cli-dave", "-n", "cli-team/sub"
    )
    assert removed.stderr == "regctl: removed registry-editor from user:cli-dave on cli-team/sub\n"
    assert admin("tags", "list", "cli-team/sub/app", env=dave).code == 4
    assert admin("role-bindings", "add", "registry-owner", "cli-dave", "-n", "x").code == 2

    # Access rules: public pulls anonymously; dave pulls and pushes.
    repository = "cli-team/sub/app"
    public = admin("repositories", "access-rules", "add", repository, "public")
    assert json.loads(public.stdout) == {"principal": "public", "actions": ["pull"]}
    with regd.client(auth=None) as anonymous:
        assert anonymous.get(f"/v2/{repository}/tags/list").status_code == 200
    rule = admin("repos", "access-rules", "add", repository, "cli-dave", "--actions", "pull,push")
    assert json.loads(rule.stdout) == {"principal": "user:cli-dave", "actions": ["pull", "push"]}
    table = admin("repositories", "access-rules", "list", repository, "-o", "table")
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0] == ["PRINCIPAL", "ACTIONS"]
    assert ["user:cli-dave", "pull,", "push"] in rows
    removed = admin("repositories", "access-rules", "remove", repository, "public")
    assert removed.stderr == f"regctl: removed the access rule of public from {repository}\n"
    with regd.client(auth=None) as anonymous:
        assert anonymous.get(f"/v2/{repository}/tags/list").status_code == 401
    assert admin("repositories", "access-rules", "remove", repository, "public").code == 3
    assert admin("users", "delete", "cli-dave", "-q").code == 0
