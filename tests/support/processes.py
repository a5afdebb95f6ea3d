"""Child processes of the tests (regd, docker-registry): their output, read as it comes."""

from __future__ import annotations

import os
import subprocess
import threading


def e2e_required() -> bool:
    """``REGD_E2E_REQUIRED=1`` (CI): a missing client or server fails instead of skipping."""
    return os.environ.get("REGD_E2E_REQUIRED") == "1"


def collect_output(process: subprocess.Popen[str], lines: list[str]) -> None:
    """Append ``process``'s stdout to ``lines`` line by line, in a daemon thread, until it
    closes (so the pipe never fills and blocks the process)."""

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=drain, daemon=True).start()
