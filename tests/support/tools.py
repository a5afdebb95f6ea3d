"""The one rule for tests that need something installed: skip where it is missing, but
fail under ``REGD_E2E_REQUIRED=1`` (CI, where ``scripts/install-test-deps`` installs
everything the tests use), so a missing tool never hides a test there."""

from __future__ import annotations

import shutil

import pytest

from tests.support.processes import e2e_required as required


def require(condition: bool, reason: str) -> None:
    """Skip the test when ``condition`` is false; fail instead under ``REGD_E2E_REQUIRED=1``."""
    if condition:
        return
    if required():
        pytest.fail(f"{reason} (REGD_E2E_REQUIRED=1)")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """The path of the ``name`` binary; skip (or fail under ``REGD_E2E_REQUIRED=1``) if absent."""
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed")
    assert path is not None
    return path
