"""Starting and watching the servers: regd (from this checkout) and Debian's docker-registry."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.common import AUTH, PASSWORD, ROOT, run


@dataclass
class Server:
    key: str  # "regd" | "ref"
    label: str
    proc: subprocess.Popen[bytes]
    base: str
    data_dir: Path
    service: str | None = None  # regd's token service; None: no authentication

    def status(self) -> dict[str, float]:
        """VmRSS and VmHWM (peak) in MiB."""
        found: dict[str, float] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
        return found

    def cpu(self) -> float:
        """User + system CPU seconds of the server process (all its threads) so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} during start-up")
        code = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", AUTH, f"{base}/v2/"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if code == "200":
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer on {base} within 30 s")


def start_regd(
    work: Path,
    python: str,
    database_url: str | None = None,
    key: str = "regd",
    label: str = "regd",
) -> Server:
    """``regd serve`` with its defaults (no access log) and a chosen admin password; on
    ``database_url`` instead of its SQLite file when given (bench/pg_vs_sqlite.py)."""
    data = work / f"{key}-data"
    logfile = work / f"{key}.log"
    env = {**os.environ, "REGD_ADMIN_PASSWORD": PASSWORD}
    if database_url is not None:
        env["REGD_DATABASE_URL"] = database_url
    with logfile.open("wb") as out:
        proc = subprocess.Popen(
            [python, "-m", "regd", "serve", "--addr", "127.0.0.1:0", "--data-dir", str(data)],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"regd listening on (http://\S+)", logfile.read_text(errors="replace"))
        if found:
            base = found.group(1)
            wait_ready(base, proc, "regd")
            challenge = run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%header{www-authenticate}", base + "/v2/"]
            )
            service = re.search(r'service="([^"]*)"', challenge)
            if service is None:
                raise RuntimeError(f"regd sent no Bearer challenge: {challenge!r}")
            return Server(key, label, proc, base, data, service.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"regd did not start; see {logfile}:\n{logfile.read_text()[-2000:]}")


def start_reference(work: Path) -> Server:
    """docker-registry: filesystem storage, deletes enabled, no auth, warn-level logs."""
    data = work / "ref-data"
    port = free_port()
    config = work / "docker-registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: regd-bench-not-a-secret\n"
    )
    with (work / "docker-registry.log").open("wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc, "docker-registry")
    return Server("ref", "docker-registry", proc, base, data)
