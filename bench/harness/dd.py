"""The physical reference for every push: ``dd … conv=fsync`` of the same bytes into the
same filesystem, in the same run (a registry that fsyncs what it stores cannot beat it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from harness.common import run


def dd_write(sources: list[Path], target: Path) -> float:
    """Seconds for one dd to write ``sources`` (concatenated) to ``target`` and fsync it;
    ``target`` is removed afterwards. Earlier writes are synced first, as before a push."""
    os.sync()
    started = time.perf_counter()
    if len(sources) == 1:
        run(["dd", f"if={sources[0]}", f"of={target}", "bs=1M", "conv=fsync"])
    else:
        cat = subprocess.Popen(["cat", *map(str, sources)], stdout=subprocess.PIPE)
        assert cat.stdout is not None
        done = subprocess.run(
            ["dd", f"of={target}", "bs=1M", "iflag=fullblock", "conv=fsync"],
            stdin=cat.stdout,
            capture_output=True,
            check=False,
        )
        cat.stdout.close()
        if cat.wait() != 0 or done.returncode != 0:
            raise RuntimeError(f"cat | dd failed: {done.stderr.decode()[-500:]}")
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def dd_parallel(sources: list[Path], directory: Path) -> float:
    """Seconds for one dd per source, all started at once, each writing its copy into
    ``directory`` with ``conv=fsync``; ``directory`` is removed afterwards."""
    directory.mkdir()
    os.sync()
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            ["dd", f"if={source}", f"of={directory / source.name}", "bs=1M", "conv=fsync"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for source in sources
    ]
    failed = [p for p in procs if p.wait() != 0]
    seconds = time.perf_counter() - started
    shutil.rmtree(directory)
    if failed:
        raise RuntimeError(f"dd failed: {failed[0].stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
    return seconds
