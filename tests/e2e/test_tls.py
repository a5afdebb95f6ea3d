"""regd serving HTTPS (``--tls-cert``/``--tls-key``) with a CA from ``regd tls self-signed``:
skopeo, podman, the docker CLI and regctl push, pull and log in when they trust the CA and
refuse when they do not; SIGHUP swaps the certificate without dropping a connection."""

from __future__ import annotations

import http.client
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.accounts import ADMIN
from tests.e2e.clients import make_docker, make_podman
from tests.e2e.conftest import require_tool, run, write_policy
from tests.support.images import write_image_layout
from tests.support.server import RegdProcess, start_regd

pytestmark = pytest.mark.e2e

NAME = "acc-x/tls/app"


def _self_signed(out: Path, host: str = "127.0.0.1") -> Path:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "regd",
            "tls",
            "self-signed",
            "--host",
            host,
            "--host",
            "localhost",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"/etc/docker/certs.d/{host}:5000/ca.crt" in done.stderr
    return out


@pytest.fixture
def tls_regd(tmp_path: Path) -> Iterator[tuple[RegdProcess, Path]]:
    tls = _self_signed(tmp_path / "tls")
    regd = start_regd(
        tmp_path / "data",
        "--tls-cert",
        str(tls / "server.crt"),
        "--tls-key",
        str(tls / "server.key"),
    )
    assert regd.url.startswith("https://127.0.0.1:")
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    (cert_dir / "ca.crt").write_bytes((tls / "ca.crt").read_bytes())
    yield regd, cert_dir
    assert regd.stop() == 0, regd.log


def test_skopeo_pushes_and_pulls_with_the_ca_and_not_without(
    tls_regd: tuple[RegdProcess, Path], tmp_path: Path
) -> None:
    skopeo = require_tool("skopeo")
    regd, cert_dir = tls_regd
    image = write_image_layout(tmp_path / "layout", "1.0", seed="tls")
    base = [skopeo, "--policy", str(write_policy(tmp_path)), "copy"]
    target = f"docker://{regd.host}/{NAME}:1.0"
    refused = run([*base, "--dest-creds", regd.admin_creds, image.reference, target], check=False)
    assert refused.returncode != 0
    assert "certificate signed by unknown authority" in refused.stderr
    run(
        [
            *base,
            "--dest-cert-dir",
            cert_dir,
            "--dest-creds",
            regd.admin_creds,
            image.reference,
            target,
        ]
    )
    pulled = tmp_path / "pulled"
    run(
        [
            *base,
            "--src-cert-dir",
            cert_dir,
            "--src-creds",
            regd.admin_creds,
            target,
            f"oci:{pulled}:1.0",
        ]
    )
    assert (pulled / "index.json").exists()


def test_podman_logs_in_pushes_and_pulls_with_the_ca(
    tls_regd: tuple[RegdProcess, Path], tmp_path: Path, podman_root: Path
) -> None:
    binary = require_tool("podman")
    regd, cert_dir = tls_regd
    podman = make_podman(binary, podman_root, regd.host)
    # make_podman marks the registry insecure; here TLS is verified
    (podman_root / "registries.conf").write_text("unqualified-search-registries = []\n")
    image = write_image_layout(tmp_path / "layout", "1.0", seed="tls-podman")
    failed = run(
        [
            *podman._command(
                (
                    "login",
                    "--authfile",
                    podman.auth_file,
                    "-u",
                    "admin",
                    "--password-stdin",
                    regd.host,
                )
            )
        ],
        env=podman.env,
        stdin=ADMIN.secret,
        check=False,
    )
    assert failed.returncode != 0
    assert "certificate signed by unknown authority" in failed.stderr
    podman(
        "login",
        "--cert-dir",
        cert_dir,
        "--authfile",
        podman.auth_file,
        "-u",
        "admin",
        "--password-stdin",
        regd.host,
        stdin=ADMIN.secret,
    )
    podman("pull", image.reference)
    local = podman("images", "--format", "{{.ID}}").splitlines()[0]
    podman("push", "--cert-dir", cert_dir, local, f"{regd.host}/{NAME}:2.0")
    podman("rmi", "-a", "-f")
    podman("pull", "--cert-dir", cert_dir, f"{regd.host}/{NAME}:2.0")
    assert f"{regd.host}/{NAME}" in podman("images", "--format", "{{.Repository}}")


def test_docker_login_over_tls(tls_regd: tuple[RegdProcess, Path], tmp_path: Path) -> None:
    """The docker CLI logs in (without an engine) to the HTTPS regd.

    What this cannot show: docker refusing an untrusted CA. Docker counts 127.0.0.0/8 as an
    insecure registry whatever its configuration (it still tries HTTPS first, unverified), and
    tests listen on loopback only; /etc/docker/certs.d/HOST:PORT/ca.crt (docs/operations.md)
    is what a non-loopback host needs.
    """
    binary = require_tool("docker")
    regd, cert_dir = tls_regd
    docker = make_docker(binary, tmp_path / "docker")
    done = run(
        [binary, "login", "-u", ADMIN.name, "--password-stdin", regd.host],
        env={**docker.env, "SSL_CERT_FILE": str(cert_dir / "ca.crt")},
        stdin=ADMIN.secret,
    )
    assert "Login Succeeded" in done.stdout
    assert docker.stored_login(regd.host)  # regd answers HTTPS only: the login went over TLS


def test_regctl_with_ca_cert(tls_regd: tuple[RegdProcess, Path], tmp_path: Path) -> None:
    regd, cert_dir = tls_regd
    env = {
        **os.environ,
        "REGCTL_CONFIG": str(tmp_path / "regctl.yaml"),
        "REGCTL_USERNAME": "admin",
        "REGCTL_PASSWORD": ADMIN.secret,
        "REGCTL_SERVER": regd.url,
    }
    regctl = [sys.executable, "-m", "regctl"]

    def call(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*regctl, *args], env={**env, **extra}, capture_output=True, text=True, check=False
        )

    untrusted = call("list", "users")
    assert untrusted.returncode == 5
    assert "certificate is not trusted" in untrusted.stderr
    assert "--ca-cert" in untrusted.stderr
    assert call("--ca-cert", str(cert_dir / "ca.crt"), "list", "users").stdout == "- admin\n"
    assert call("list", "users", REGCTL_CA_CERT=str(cert_dir / "ca.crt")).stdout == "- admin\n"
    plain = call("list", "users", REGCTL_SERVER=regd.url.replace("https://", "http://"))
    assert plain.returncode == 5  # an HTTP client against HTTPS: regd drops it


def test_sighup_swaps_the_certificate_and_keeps_connections(tmp_path: Path) -> None:
    first = _self_signed(tmp_path / "first")
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.crt", "server.key"):
        (live / name).write_bytes((first / name).read_bytes())
    regd = start_regd(
        tmp_path / "data",
        "--tls-cert",
        str(live / "server.crt"),
        "--tls-key",
        str(live / "server.key"),
    )
    try:
        port = int(regd.host.rpartition(":")[2])
        old = http.client.HTTPSConnection("127.0.0.1", port, context=_trusting(first))
        old.request("GET", "/v2/")
        assert old.getresponse().read() is not None
        second = _self_signed(tmp_path / "second")
        for name in ("server.crt", "server.key"):
            (live / name).write_bytes((second / name).read_bytes())
        regd.process.send_signal(1)  # SIGHUP
        from tests.e2e.conftest import wait_for_log

        wait_for_log(regd, "SIGHUP: reloaded")
        fresh = http.client.HTTPSConnection("127.0.0.1", port, context=_trusting(second))
        fresh.request("GET", "/v2/")
        answer = fresh.getresponse()
        assert answer.status == 401
        # public_url follows the request: over TLS the token realm is https://
        assert answer.getheader("WWW-Authenticate", "").startswith(
            f'Bearer realm="{regd.url}/token"'
        )
        answer.read()
        old.request("GET", "/v2/")  # the connection made before the reload still works
        assert old.getresponse().status == 401
        stale = http.client.HTTPSConnection("127.0.0.1", port, context=_trusting(first))
        with pytest.raises(ssl.SSLCertVerificationError):
            stale.request("GET", "/v2/")
        (live / "server.key").write_bytes((first / "server.key").read_bytes())  # mismatched
        regd.process.send_signal(1)
        wait_for_log(regd, "SIGHUP: kept the certificate in use")
        fresh = http.client.HTTPSConnection("127.0.0.1", port, context=_trusting(second))
        fresh.request("GET", "/v2/")
        assert fresh.getresponse().status == 401
    finally:
        assert regd.stop() == 0, regd.log


def _trusting(tls: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    return context
