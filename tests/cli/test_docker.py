"""regctl's login, handed to docker: ``registry login`` (like ``oc registry login``) and
``docker-credential-regctl``, with the real docker CLI and skopeo."""

from __future__ import annotations

import base64
import json
import stat

import httpx
import pytest

from tests.cli.conftest import Regctl, need
from tests.support.oci import push_image
from tests.support.server import ADMIN_PASSWORD, RegdProcess

pytestmark = [pytest.mark.api_v1, pytest.mark.e2e]

NOT_FOUND = "credentials not found in native keychain\n"


def _login(regctl: Regctl, regd: RegdProcess) -> dict[str, str]:
    """``regctl login`` as admin; the stored credentials."""
    import yaml

    done = regctl("login", regd.url, "-u", "admin", "--password-stdin", input=ADMIN_PASSWORD)
    assert done.code == 0, done.stderr
    stored = yaml.safe_load(regctl.config.with_name("credentials.yaml").read_text())
    entry: dict[str, str] = stored["contexts"][regd.host]
    return entry


def test_registry_login_merges_into_docker_config(
    regctl: Regctl, regd: RegdProcess, http: httpx.Client
) -> None:
    need("docker")
    push_image(http, "cli-docker/registry-login", "1.0", seed="cli-registry-login")
    entry = _login(regctl, regd)
    auth = base64.b64encode(f"admin:{entry['token']}".encode()).decode()

    printed = regctl("registry", "login", "--to=-")
    assert printed.code == 0, printed.stderr
    assert json.loads(printed.stdout) == {"auths": {regd.host: {"auth": auth}}}

    config = regctl.docker_config
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"auths": {"other.example.com": {"auth": "eDp5"}}, "x": 1}))
    done = regctl("registry", "login")
    assert done.code == 0, done.stderr
    assert done.stderr == f"regctl: saved credentials for {regd.host} as admin in {config}\n"
    assert json.loads(config.read_text()) == {
        "auths": {"other.example.com": {"auth": "eDp5"}, regd.host: {"auth": auth}},
        "x": 1,
    }
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    reference = f"{regd.host}/cli-docker/registry-login:1.0"
    pulled = regctl.run("docker", "manifest", "inspect", "--insecure", reference)
    assert pulled.code == 0, pulled.stderr

    # With password credentials a token is minted for docker; HOST may be given.
    with_password = regctl(
        "registry", "login", "alias.example.com", "--to", str(regctl.config.parent / "c.json"),
        env={"REGCTL_USERNAME": "admin", "REGCTL_PASSWORD": ADMIN_PASSWORD},
    )  # fmt: skip
    assert with_password.code == 0, with_password.stderr
    assert with_password.stderr.startswith("regctl: created token ")
    written = json.loads((regctl.config.parent / "c.json").read_text())
    secret = base64.b64decode(written["auths"]["alias.example.com"]["auth"]).decode()
    assert secret.startswith("admin:regd_")
    assert secret != f"admin:{entry['token']}"

    refused = regctl("registry", "login", env={"REGCTL_TOKEN": "regd_abc_bogus"})
    assert refused.code == 4


def test_credential_helper_protocol(regctl: Regctl, regd: RegdProcess) -> None:
    def helper(action: str, stdin: str = "") -> tuple[int, str]:
        done = regctl.run("docker-credential-regctl", action, input=stdin)
        assert done.stderr == ""
        return done.code, done.stdout

    assert helper("get", regd.host) == (1, NOT_FOUND)
    assert helper("list") == (0, "{}\n")
    entry = _login(regctl, regd)
    code, out = helper("get", regd.host + "\n")
    assert code == 0
    assert json.loads(out) == {
        "ServerURL": regd.host,
        "Username": "admin",
        "Secret": entry["token"],
    }
    assert json.loads(helper("get", regd.url)[1])["Secret"] == entry["token"]
    assert helper("get", "other.example.com") == (1, NOT_FOUND)
    assert json.loads(helper("list")[1]) == {regd.host: "admin"}

    stored = {"ServerURL": "https://other.example.com", "Username": "bob", "Secret": "s3cret"}
    assert helper("store", json.dumps(stored)) == (0, "")
    assert json.loads(helper("get", "other.example.com")[1]) == {
        "ServerURL": "other.example.com",
        "Username": "bob",
        "Secret": "s3cret",
    }
    assert json.loads(helper("list")[1]) == {regd.host: "admin", "other.example.com": "bob"}
    # The context regctl was logged in to stays current.
    assert regctl("config", "current-context").stdout == f"{regd.host}\n"
    assert helper("erase", "other.example.com") == (0, "")
    assert helper("get", "other.example.com") == (1, NOT_FOUND)
    assert helper("erase", "other.example.com") == (1, NOT_FOUND)

    assert helper("store", "not json")[0] == 1
    assert helper("bogus") == (1, "usage: docker-credential-regctl get|store|erase|list|version\n")
    # REGCTL_SERVER + REGCTL_TOKEN answer for their server first.
    env = {"REGCTL_SERVER": regd.url, "REGCTL_TOKEN": "regd_x_y"}
    overridden = regctl.run("docker-credential-regctl", "get", input=regd.host, env=env)
    assert json.loads(overridden.stdout)["Secret"] == "regd_x_y"


def test_docker_and_skopeo_use_regctls_login_through_the_helper(
    regctl: Regctl, regd: RegdProcess, http: httpx.Client
) -> None:
    need("docker")
    image = push_image(http, "cli-docker/helper", "1.0", seed="cli-helper")
    reference = f"{regd.host}/cli-docker/helper:1.0"
    config = regctl.docker_config
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"credHelpers": {regd.host: "regctl"}}))
    assert regctl.run("docker", "manifest", "inspect", "--insecure", reference).code != 0

    _login(regctl, regd)
    pulled = regctl.run("docker", "manifest", "inspect", "--insecure", reference)
    assert pulled.code == 0, pulled.stderr
    assert json.loads(pulled.stdout)["layers"] == json.loads(image.manifest)["layers"]
    skopeo = need("skopeo")
    inspected = regctl.run(
        skopeo, "inspect", "--tls-verify=false", "--authfile", str(config), f"docker://{reference}"
    )
    assert inspected.code == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Digest"] == image.digest

    # docker login stores its identity token through the helper; regctl can use it too.
    assert regctl("logout").code == 0
    login = regctl.run(
        "docker", "login", "-u", "admin", "--password-stdin", regd.host, input=ADMIN_PASSWORD
    )
    assert login.code == 0, login.stderr
    assert json.loads(config.read_text())["auths"][regd.host] == {}
    assert regctl("whoami").stdout == "admin\n"
    assert regctl.run("docker", "manifest", "inspect", "--insecure", reference).code == 0
    assert regctl.run("docker", "logout", regd.host).code == 0
    assert regctl.run("docker-credential-regctl", "get", input=regd.host).stdout == NOT_FOUND
