"""The machine and tool versions a run reports in its header."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from harness.common import ROOT, run


def machine(python: str) -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    versions = run(
        [
            python,
            "-c",
            "import sys, aiohttp, regd; "
            "print(sys.version.split()[0], aiohttp.__version__, regd.__version__)",
        ]
    ).split()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "CPUs": str(os.cpu_count()),
        "CPU model": cpu,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "Python": versions[0],
        "aiohttp": versions[1],
        "regd": f"{versions[2]} ({commit or 'no git'}), stock asyncio event loop",
        "docker-registry": run(["docker-registry", "--version"]).strip().split()[-1],
        "curl": run(["curl", "--version"]).split("\n")[0].split()[1],
        "wrk": run(["sh", "-c", "wrk --version 2>&1 || true"]).split()[1],
    }
