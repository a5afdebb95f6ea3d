"""End-to-end helpers: finding the real client binaries, running them, reading regd's log.

A missing client skips its tests, unless ``REGD_E2E_REQUIRED=1`` (as in CI, where
``scripts/install-test-deps`` has installed them all) turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.access_log import logged_request
from tests.support.server import RegdProcess, start_regd
from tests.support.tools import require, require_tool

__all__ = ["require", "require_tool"]  # e2e tests import them from here

#: Seconds one client command may take before the test fails.
COMMAND_TIMEOUT = 120.0


def run(
    args: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = COMMAND_TIMEOUT,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a client command; with ``check``, fail the test (showing its output) unless it exits 0.

    ``env`` is added to this process's environment; ``stdin`` is written to its standard input
    (a password for ``--password-stdin``), which is otherwise empty.
    """
    command = [str(arg) for arg in args]
    result = subprocess.run(
        command,
        env={**os.environ, **(env or {})},
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def write_policy(directory: Path) -> Path:
    """A containers-policy.json accepting any image, so no system /etc/containers is needed."""
    path = directory / "policy.json"
    path.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    return path


def write_auth_file(directory: Path) -> Path:
    """An empty containers auth file, so the clients neither read nor write the user's."""
    path = directory / "auth.json"
    path.write_text(json.dumps({"auths": {}}))
    return path


def wait_for_log(regd: RegdProcess, marker: str, timeout: float = 10.0) -> str:
    """regd's log once it holds a line containing ``marker``.

    The log is drained by a background thread, so a request regd has answered may reach
    ``RegdProcess.log`` a moment later; this polls for the condition, with a deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        log = regd.log
        if marker in log:
            return log
        if time.monotonic() > deadline:
            pytest.fail(f"{marker!r} not in regd's log after {timeout}s:\n{log}")
        time.sleep(0.02)


@dataclass(frozen=True)
class Access:
    """One request of regd's access log (``--access-log``)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    user_agent: str
    #: Every ``scope`` parameter (a token request may carry several).
    scopes: tuple[str, ...] = ()


def accesses(lines: list[str]) -> list[Access]:
    """The requests among regd's log lines."""
    found = []
    for line in lines:
        logged = logged_request(line)
        if logged is None or "regd.access" not in line:
            continue
        url = logged.url
        user_agent = line.rstrip("\n").rsplit('"', 2)[-2] if line.count('"') >= 6 else ""
        found.append(
            Access(
                logged.method,
                url.path,
                dict(url.params),
                logged.status,
                user_agent,
                tuple(url.params.get_list("scope")),
            )
        )
    return found


def sync_log(regd: RegdProcess) -> int:
    """How many lines regd has logged, once every request answered so far has been logged.

    A request of our own, answered after everything before it, is logged after them too.
    """
    marker = f"e2e-sync-{uuid.uuid4().hex}"
    with regd.client() as http:
        assert http.get("/v2/", params={"sync": marker}).status_code == 200
    wait_for_log(regd, marker)
    return len(regd.log_lines)


@pytest.fixture
def skopeo() -> str:
    return require_tool("skopeo")


@pytest.fixture
def podman() -> str:
    return require_tool("podman")


@pytest.fixture
def docker() -> str:
    return require_tool("docker")


@pytest.fixture
def podman_root() -> Iterator[Path]:
    """A short private directory: podman refuses a run root longer than 50 characters."""
    root = Path(tempfile.mkdtemp(prefix="regd-podman-", dir="/tmp"))
    yield root
    shutil.rmtree(root)


@pytest.fixture
def logged_regd(tmp_path: Path) -> Iterator[RegdProcess]:
    """A regd of the test's own that logs every request."""
    server = start_regd(tmp_path / "data", "--access-log")
    yield server
    assert server.stop() == 0, server.log
