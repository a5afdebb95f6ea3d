"""The web console in a real browser: Debian's chromium driven by Playwright for Python.

One browser for the module (all the browser tests); each test gets a fresh context (its
own cookies), a page at 1280x800 that records console errors, failed requests and
refused responses (a test declares the refusals it provokes), axe-core (from npm,
installed by scripts/install-test-deps) injected on demand, and screenshots saved under
``.cache/ui-test/artefacts`` (``REGD_UI_ARTEFACTS`` to choose). Without chromium,
playwright or axe-core the tests skip, or fail under ``REGD_E2E_REQUIRED=1``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import require, require_tool
from tests.support.oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    image_manifest,
    push_blob,
    push_image,
    push_manifest,
)
from tests.support.server import ADMIN_PASSWORD, RegdProcess, start_regd

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache" / "ui-test" / "node_modules" / "axe-core" / "axe.min.js"
ARTEFACTS = Path(os.environ.get("REGD_UI_ARTEFACTS", ROOT / ".cache" / "ui-test" / "artefacts"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
_RESOURCE_ERROR = re.compile(
    r"Failed to load resource: the server responded with a status of (\d+)"
)


# One browser per module, not per session: Playwright's sync API keeps an event loop
# running in this thread while it is open, and a later module's asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_tool("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright (pip) is not installed")
        raise
    require(AXE.is_file(), f"axe-core is not installed at {AXE} (scripts/install-test-deps)")
    with sync_playwright() as playwright:
        # Playwright starts chromium with a fresh temporary --user-data-dir of its own.
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegdProcess]:
    """The regd the console runs on, with an index and a few nested repositories to show."""
    server = start_regd(tmp_path_factory.mktemp("console"))
    with server.client() as admin:
        push_image(admin, "acme/tools/linter", "2.1", seed="linter")
        push_image(admin, "acme/web", "latest", seed="web")
        push_index(admin, "acme/multi", "1.0")
    yield server
    assert server.stop() == 0, server.log
    assert "Traceback" not in server.log, server.log


def push_index(admin: Any, name: str, tag: str) -> None:
    """An image index of two platforms, each image's config saying which."""
    children = []
    for arch in ("amd64", "arm64"):
        config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {}}).encode()
        layers = [f"the {arch} layer of {name}".encode()]
        for blob in (config, *layers):
            push_blob(admin, name, blob)
        manifest = image_manifest(config, layers)
        assert push_manifest(admin, name, f"{tag}-{arch}", manifest).status_code == 201
        platform = {"os": "linux", "architecture": arch}
        children.append(descriptor(OCI_MANIFEST, manifest, platform=platform))
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})
    response = push_manifest(admin, name, tag, body.encode(), OCI_INDEX)
    assert response.status_code == 201, response.text


@dataclass
class Console:
    """A signed-out page on the console, watching for what must not happen."""

    page: Any
    regd: RegdProcess
    errors: list[str] = field(default_factory=list)
    #: (status, part of the path) of refusals the test provokes on purpose.
    allowed: list[tuple[int, str]] = field(default_factory=list)

    def allow(self, status: int, path_part: str) -> None:
        self.allowed.append((status, path_part))

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        found = _RESOURCE_ERROR.search(message.text)
        if found and any(int(found.group(1)) == status for status, _ in self.allowed):
            return  # the refused response itself is checked by _on_response
        self.errors.append(f"console: {message.text}")

    def _on_response(self, response: Any) -> None:
        if response.status < 400:
            return
        if not any(s == response.status and p in response.url for s, p in self.allowed):
            self.errors.append(
                f"response: {response.status} {response.request.method} {response.url}"
            )

    def watch(self) -> None:
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on(
            "requestfailed",
            lambda request: self.errors.append(
                f"failed: {request.method} {request.url} {request.failure}"
            ),
        )
        self.page.on("response", self._on_response)

    # -- navigation ----------------------------------------------------------------------

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.regd.url}/ui/{route}")

    def wait(self, page: str) -> None:
        self.page.wait_for_selector(f"main[data-page='{page}'][aria-busy='false']")

    def tab_to(self, selector: str, limit: int = 80, key: str = "Tab") -> None:
        """Press Tab (or ``key``) until ``selector`` has the focus: a keyboard user's way."""
        for _ in range(limit):
            if self.page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
                return
            self.page.keyboard.press(key)
        raise AssertionError(f"{selector} never got the focus by {key}")

    def sign_in(self, user: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        """Sign in with the keyboard only."""
        self.open()
        self.wait("sign-in")
        self.tab_to("input[name=username]")
        self.page.keyboard.type(user)
        self.page.keyboard.press("Tab")
        self.page.keyboard.type(password)
        self.page.keyboard.press("Enter")
        self.wait("repositories")

    def go(self, link: str, page: str) -> None:
        """Follow a navigation link with the keyboard."""
        self.tab_to(f"#nav a[href='{link}']", key="Shift+Tab")  # back up to the navigation
        self.page.keyboard.press("Enter")
        self.wait(page)

    # -- checks --------------------------------------------------------------------------

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now."""
        if not self.page.evaluate("() => typeof window.axe === 'object'"):
            # Through the DevTools protocol, as a person's extension would: the page's CSP
            # (no inline script) rightly refuses a <script> tag with axe's source.
            self.page.evaluate(AXE.read_text(encoding="utf-8"))
        violations: list[dict[str, Any]] = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}))"""
        )
        return violations

    def check(self, name: str) -> None:
        """A screenshot (an artefact) and no serious or critical axe violation."""
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTEFACTS / f"{name}.png"))
        assert self.axe() == [], name


@pytest.fixture
def console(browser: Any, regd: RegdProcess) -> Iterator[Console]:
    context = browser.new_context(
        viewport=VIEWPORT, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    watched = Console(page, regd)
    watched.watch()
    try:
        yield watched
    finally:
        context.close()
    assert watched.errors == [], "\n".join(watched.errors)
