"""The real registry clients, each wrapped with a private configuration and its credentials.

Nothing of the host's configuration is read or written: skopeo and podman get their own
policy and auth file, podman its own storage, docker its own ``DOCKER_CONFIG``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oras.auth
import oras.client

from tests.e2e.conftest import run, write_auth_file, write_policy
from tests.support.images import LayoutImage, write_image_layout
from tests.support.server import RegdProcess

# -- skopeo ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skopeo:
    """skopeo with its own policy and auth file, talking plain HTTP to one regd.

    ``creds`` (``NAME:SECRET``) goes with every command that reaches regd (``--creds``,
    ``--src-creds``, ``--dest-creds``); without it skopeo is anonymous.
    """

    binary: str
    policy: Path
    auth_file: Path
    regd: RegdProcess
    creds: str | None = None

    def as_(self, creds: str | None) -> Skopeo:
        """The same skopeo with other credentials (None: anonymous)."""
        return dataclasses.replace(self, creds=creds)

    def result(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """Run ``skopeo ARGS`` whatever its exit status."""
        return run(
            [self.binary, "--policy", self.policy, *args],
            env={"REGISTRY_AUTH_FILE": str(self.auth_file)},
            check=False,
        )

    def __call__(self, *args: str | Path) -> str:
        """Run ``skopeo ARGS``, failing the test unless it succeeds; its standard output."""
        command = [self.binary, "--policy", self.policy, *args]
        return run(command, env={"REGISTRY_AUTH_FILE": str(self.auth_file)}).stdout

    def failing(self, *args: str | Path) -> str:
        """Run ``skopeo ARGS``, failing the test if it succeeds; its output (stdout + stderr)."""
        result = self.result(*args)
        assert result.returncode != 0, f"skopeo {args} succeeded:\n{result.stdout}"
        return result.stdout + result.stderr

    def _options(self, prefix: str) -> list[str]:
        options = [f"--{prefix}tls-verify=false"]
        if self.creds is not None:
            options += [f"--{prefix}creds", self.creds]
        return options

    @property
    def remote(self) -> list[str]:
        """Options of commands reading regd: ``inspect``, ``list-tags``, ``delete``."""
        return self._options("")

    @property
    def src(self) -> list[str]:
        """``copy`` options for regd as the source."""
        return self._options("src-")

    @property
    def dest(self) -> list[str]:
        """``copy`` options for regd as the destination."""
        return self._options("dest-")

    def ref(self, name: str, tag: str) -> str:
        return f"docker://{self.regd.host}/{name}:{tag}"

    def push(self, image: LayoutImage, name: str, tag: str) -> None:
        self("copy", *self.dest, image.reference, self.ref(name, tag))

    def pull(self, name: str, tag: str, directory: Path) -> None:
        """Copy ``name:tag`` into an OCI layout at ``directory``."""
        self("copy", *self.src, self.ref(name, tag), f"oci:{directory}:{tag}")


def seed_upstream(
    skopeo_bin: str, directory: Path, host: str, creds: str, name: str, seed: str, **kw: Any
) -> LayoutImage:
    """Push a fresh image (``seed``) to an upstream registry at ``host`` as ``name:1.0``."""
    image = write_image_layout(directory / f"seed-{seed}", "1.0", seed=seed, **kw)
    config = directory / f"seeder-{seed}"
    config.mkdir()
    run(
        [
            skopeo_bin,
            "--policy",
            write_policy(config),
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            creds,
            image.reference,
            f"docker://{host}/{name}:1.0",
        ],
        env={"REGISTRY_AUTH_FILE": str(write_auth_file(config))},
    )
    return image


def make_skopeo(
    binary: str, directory: Path, regd: RegdProcess, creds: str | None = None
) -> Skopeo:
    directory.mkdir(parents=True, exist_ok=True)
    return Skopeo(binary, write_policy(directory), write_auth_file(directory), regd, creds)


# -- podman ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Podman:
    """podman with a private store, run root and configuration: nothing of the host's is used.

    ``cgroupfs`` and file events, because the sandbox has no systemd. ``auth_file`` is where
    ``podman login`` keeps credentials (``REGISTRY_AUTH_FILE`` too).
    """

    binary: str
    root: Path
    env: dict[str, str]
    auth_file: Path

    def _command(self, args: tuple[str | Path, ...]) -> list[str | Path]:
        return [
            self.binary,
            "--root",
            self.root / "storage",
            "--runroot",
            self.root / "run",
            "--tmpdir",
            self.root / "tmp",
            "--storage-driver",
            "vfs",
            "--cgroup-manager=cgroupfs",
            "--events-backend=file",
            *args,
        ]

    def __call__(self, *args: str | Path, stdin: str | None = None) -> str:
        """Run ``podman ARGS``, failing the test unless it succeeds; its standard output."""
        return run(self._command(args), env=self.env, stdin=stdin).stdout.strip()

    def login(self, registry: str, username: str, secret: str) -> str:
        """``podman login --password-stdin`` into ``auth_file``."""
        return self(
            "login",
            "--authfile",
            self.auth_file,
            "--tls-verify=false",
            "--username",
            username,
            "--password-stdin",
            registry,
            stdin=secret,
        )


def make_podman(binary: str, root: Path, registry: str) -> Podman:
    """podman configured under ``root`` (keep it short: podman refuses a long run root)."""
    registries = root / "registries.conf"
    registries.write_text(
        f'unqualified-search-registries = []\n\n[[registry]]\nlocation = "{registry}"\n'
        "insecure = true\n"
    )
    storage = root / "storage.conf"
    storage.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "storage"}"\nrunroot = "{root / "run"}"\n'
    )
    containers = root / "containers.conf"
    containers.write_text('[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    auth_file = write_auth_file(root)
    env = {
        "CONTAINERS_REGISTRIES_CONF": str(registries),
        "CONTAINERS_STORAGE_CONF": str(storage),
        "CONTAINERS_CONF": str(containers),
        "REGISTRY_AUTH_FILE": str(auth_file),
    }
    return Podman(binary, root, env, auth_file)


# -- docker ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Docker:
    """The docker CLI with its own ``DOCKER_CONFIG`` (no engine: login and manifest only)."""

    binary: str
    config_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {"DOCKER_CONFIG": str(self.config_dir), "DOCKER_CLI_EXPERIMENTAL": "enabled"}

    def result(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS`` whatever its exit status."""
        return run([self.binary, *args], env=self.env, check=False, stdin=stdin)

    def __call__(self, *args: str) -> str:
        """Run ``docker ARGS``, failing the test unless it succeeds; its standard output."""
        return run([self.binary, *args], env=self.env).stdout

    def login(self, registry: str, username: str, secret: str) -> subprocess.CompletedProcess[str]:
        """``docker login --password-stdin`` (whatever its exit status)."""
        return self.result(
            "login", "--username", username, "--password-stdin", registry, stdin=secret
        )

    def manifest(self, reference: str) -> dict[str, Any]:
        """``docker manifest inspect --insecure``, parsed."""
        shown: dict[str, Any] = json.loads(self("manifest", "inspect", "--insecure", reference))
        return shown

    def stored_login(self, registry: str) -> dict[str, str]:
        """What ``docker login`` left in config.json for ``registry``."""
        config = json.loads((self.config_dir / "config.json").read_text())
        entry: dict[str, str] = config["auths"][registry]
        return entry


def make_docker(binary: str, directory: Path) -> Docker:
    directory.mkdir(parents=True, exist_ok=True)
    return Docker(binary, directory)


def basic_auth_parts(entry: dict[str, str]) -> tuple[str, str]:
    """The user name and password of a docker config.json ``auth`` (base64 ``user:password``)."""
    username, _, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
    return username, password


# -- oras (the Python SDK) ---------------------------------------------------------------


def oras_client(regd: RegdProcess, username: str, secret: str, config: Path) -> Any:
    """An ORAS SDK client logged in to ``regd`` (with its token auth backend, the default).

    ``login()`` records the credentials in ``config`` (a docker config.json of the test's own,
    never ``~/.docker``) and gives them to the token backend, which trades them at regd's
    ``/token`` for Bearer registry tokens when regd challenges it.
    """
    client = oras.client.OrasClient(hostname=regd.host, insecure=True)
    assert isinstance(client.auth, oras.auth.TokenAuth)
    answer = client.login(
        username=username, password=secret, hostname=regd.host, config_path=str(config)
    )
    assert answer == {"Status": "Login Succeeded"}, answer
    return client


def oras_token_for_push(client: Any, regd: RegdProcess, name: str) -> None:
    """Have the SDK fetch a registry token for pushing to ``name`` before it pushes.

    The SDK keeps the first token it gets and re-fetches only after a 403. Pushing starts with
    a HEAD of the blob, so that first token is for ``pull``; regd (like the reference registry)
    answers the upload's POST with 401 ``insufficient_scope`` asking for ``pull,push``, and
    the SDK would resend the token it holds. So this hands the SDK regd's challenge for an
    upload (an anonymous POST) and lets its own challenge handling request the token.
    """
    challenge = client.session.post(f"{regd.url}/v2/{name}/blobs/uploads/", timeout=60)
    assert challenge.status_code == 401, challenge.text
    assert f'scope="repository:{name}:pull,push"' in challenge.headers["WWW-Authenticate"]
    client.auth.token = None
    _headers, changed = client.auth.authenticate_request(challenge, {})
    assert changed, "the ORAS SDK got no registry token from regd"
    assert client.auth.token.count(".") == 2, "not a JWT"
