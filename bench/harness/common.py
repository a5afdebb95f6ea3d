"""What every part of the bench shares: paths, credentials, logging, running a tool, /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
ROOT = BENCH.parent
PUSH_SH = BENCH / "push.sh"
WRK_LUA = BENCH / "wrk.lua"
RESULTS = BENCH / "results"
MiB = 1 << 20
USER, PASSWORD = "admin", "bench-password-0123456789"
AUTH = f"{USER}:{PASSWORD}"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    """Run a tool; its stdout. Fails loudly with its stderr."""
    done = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all CPUs) since boot."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def size_label(size: int) -> str:
    return f"{size // (1 << 30)} GiB" if size % (1 << 30) == 0 else f"{size // MiB} MiB"
