"""The README as a new user meets it: the Quick start block, run line by line as written, and
links that a clone has.

Two changes to the lines, both to share the machine: the port (5000 becomes a free one, in
``REGD_ADDR`` and in the lines) and a data dir, podman store and auth file of the test's own
(environment variables, so the lines themselves are untouched).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.conftest import require_tool, write_auth_file

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _quick_start_lines() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Quick start") :]
    block = section[section.index("```sh\n") + 6 : section.index("\n```", section.index("```sh"))]
    lines: list[str] = []
    pending = ""
    for raw in block.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1].rstrip() + " "
            continue
        lines.append(pending + raw.strip())
        pending = ""
    return lines


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _environment(tmp_path: Path, port: int) -> dict[str, str]:
    podman = tmp_path / "podman"
    podman.mkdir()
    (podman / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{podman / "storage"}"\n'
        f'runroot = "{podman / "run"}"\n'
    )
    (podman / "containers.conf").write_text(
        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "REGD_DATA_DIR": str(tmp_path / "data"),
        "REGD_ADDR": f"127.0.0.1:{port}",
        "CONTAINERS_STORAGE_CONF": str(podman / "storage.conf"),
        "CONTAINERS_CONF": str(podman / "containers.conf"),
        "REGISTRY_AUTH_FILE": str(write_auth_file(podman)),
        "TMPDIR": str(tmp_path),
    }


def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    for tool in ("skopeo", "podman", "curl"):
        require_tool(tool)
    port = _free_port()
    env = _environment(tmp_path, port)
    work = tmp_path / "clone"
    work.mkdir()
    (work / "scripts").symlink_to(ROOT / "scripts")
    lines = _quick_start_lines()
    assert len(lines) == 6, lines
    background: subprocess.Popen[str] | None = None
    try:
        for line in lines:
            command, _, expected = line.replace(":5000", f":{port}").partition("  # ")
            command = command.strip()
            if command.endswith("&"):
                background, said = _start(command[:-1], env, work)
                assert said == expected.strip()
                continue
            done = subprocess.run(
                ["bash", "-c", command],
                env=env,
                cwd=work,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            if expected.strip().startswith("{"):
                assert json.loads(done.stdout) == json.loads(expected), line
    finally:
        if background is not None:
            background.send_signal(signal.SIGTERM)
            assert background.wait(timeout=60) == 0


def _start(command: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """The backgrounded ``regd serve``, once it has said it listens, and that line."""
    process = subprocess.Popen(
        ["bash", "-c", command],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    timer = threading.Timer(60, process.kill)
    timer.start()
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if "regd listening on http://" in line:
                break
    finally:
        timer.cancel()
    assert len(seen) == 1, seen  # exactly one line: migrations are quiet
    assert "regd listening" in seen[0], seen
    drain = threading.Thread(target=lambda: [None for _ in process.stderr or ()], daemon=True)
    drain.start()
    return process, seen[-1].strip()


def test_readme_links_only_to_what_a_clone_has() -> None:
    for target in re.findall(r"\]\(([^)]+)\)", README.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        assert (ROOT / target).exists(), target
