"""regctl as a real process against a real regd.

``regctl`` runs as ``python -m regctl`` with a config file of the test's own
(``REGCTL_CONFIG``), none of the caller's ``REGCTL_*`` variables, no OS keyring (keyring's
fail backend: a test never touches the keyring of the machine it runs on) and a docker
config directory of its own (``DOCKER_CONFIG``). The virtualenv's bin directory leads
``PATH``, so docker finds ``docker-credential-regctl``. Tests marked ``api_v1`` need regd's
management API (``/api/v1``); ``pytest -m api_v1 tests/cli`` finds them.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import ADMIN_PASSWORD, RegdProcess
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
REGCTL = [sys.executable, "-m", "regctl"]
#: The virtualenv's scripts: regctl, docker-credential-regctl.
BIN = Path(sys.executable).parent
TIMEOUT = 60.0
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text).replace("\r\n", "\n")


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("regctl: error:")]


@dataclass
class Regctl:
    """Runs regctl with an environment of the test's own."""

    env: dict[str, str]
    config: Path

    def __call__(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        done = subprocess.run(
            [*REGCTL, *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=TIMEOUT,
            cwd=ROOT,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def run(
        self, *command: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        """Run another program (docker, skopeo, kubectl...) with this environment."""
        done = subprocess.run(
            command,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=TIMEOUT,
            cwd=ROOT,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    @property
    def docker_config(self) -> Path:
        return Path(self.env["DOCKER_CONFIG"]) / "config.json"

    def shell(self, script: str, env: Mapping[str, str] | None = None) -> Result:
        """Run ``script`` with bash, ``regctl`` being this regctl (a function)."""
        command = " ".join(shlex.quote(part) for part in REGCTL)
        done = subprocess.run(
            ["bash", "-c", f'regctl() {{ {command} "$@"; }}\nset -o pipefail\n{script}'],
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=TIMEOUT,
            cwd=ROOT,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def on_terminal(self, *args: str, answer: tuple[str, str] | None = None) -> Result:
        """Run regctl under a pseudo-terminal (``script``); stdout and stderr arrive merged.

        ``answer`` = (prompt, text): wait for ``prompt`` on the terminal, then type ``text``.
        """
        command = " ".join(shlex.quote(part) for part in [*REGCTL, *args])
        process = subprocess.Popen(
            ["script", "-qec", command, "/dev/null"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,  # unbuffered: read(n) returns what the terminal has written so far
            env={**self.env, "COLUMNS": "120", "TERM": "xterm"},
            cwd=ROOT,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        watchdog = threading.Timer(TIMEOUT, process.kill)
        watchdog.start()
        try:
            seen = b""
            if answer is not None:
                prompt, text = answer
                while prompt.encode() not in seen:
                    chunk = process.stdout.read(4096)
                    if not chunk:
                        break
                    seen += chunk
                process.stdin.write(text.encode() + b"\n")
                process.stdin.flush()
            seen += process.stdout.read()
            process.stdin.close()
            code = process.wait()
        finally:
            watchdog.cancel()
        return Result(code, strip_ansi(seen.decode()), "")


@pytest.fixture
def regctl(tmp_path: Path) -> Regctl:
    """regctl with an empty config of its own and no credentials."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REGCTL_", "DOCKER_", "PYTHON_KEYRING", "REGISTRY_AUTH"))
        and k not in ("COLUMNS", "LINES")  # pytest-xdist sets them in its workers
    }
    config = tmp_path / "regctl" / "config.yaml"
    env = {
        **keep,
        "REGCTL_CONFIG": str(config),
        "HOME": str(tmp_path),
        "NO_COLOR": "1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return Regctl(env, config)


@pytest.fixture
def admin(regctl: Regctl, regd: RegdProcess) -> Regctl:
    """regctl talking to the session's regd as ``admin`` (through the environment)."""
    regctl.env.update(
        REGCTL_SERVER=regd.url, REGCTL_USERNAME="admin", REGCTL_PASSWORD=ADMIN_PASSWORD
    )
    return regctl


def need(program: str) -> str:
    """The path of ``program``; skipped where it is not installed, a failure under
    ``REGD_E2E_REQUIRED=1`` (tests/support/tools.py)."""
    return require_tool(program)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
