"""Shared fixtures: a real regd process on a free loopback port."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import RegdProcess, start_regd


@pytest.fixture(scope="session")
def regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    """One regd shared by a test session (tests use distinct repository names)."""
    server = start_regd(tmp_path_factory.mktemp("regd-data"))
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture
def fresh_regd(tmp_path: Path) -> Iterator[RegdProcess]:
    """A regd of the test's own, on its own data directory."""
    server = start_regd(tmp_path / "data")
    yield server
    server.stop(signal.SIGKILL)


@pytest.fixture
def http(regd: RegdProcess) -> Iterator[httpx.Client]:
    with regd.client() as client:
        yield client
