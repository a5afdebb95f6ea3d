"""The error middleware over real HTTP (aiohttp's test server on loopback): a bug is a 500
(never a retry signal) with a request id in the body, the X-Request-Id header and one log
line; a full disk says so (507); neither sends a traceback to the client."""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from regd.http.errors import error_middleware


async def _bug(_request: web.Request) -> web.Response:
    raise KeyError("a bug in a handler")


async def _disk_full(_request: web.Request) -> web.Response:
    raise OSError(errno.ENOSPC, "No space left on device")


async def _get(path: str) -> tuple[int, CIMultiDict[str], Any]:
    app = web.Application(middlewares=[error_middleware])
    for prefix in ("/v2/x", "/api/v1"):
        app.router.add_get(prefix + "/bug", _bug)
        app.router.add_get(prefix + "/full", _disk_full)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get(path)
        return response.status, response.headers.copy(), await response.json(content_type=None)


def _our_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "regd.http.errors"]


def test_a_bug_on_v2_is_a_500_with_a_request_id(caplog: pytest.LogCaptureFixture) -> None:
    status, headers, body = asyncio.run(_get("/v2/x/bug"))
    assert status == 500
    (error,) = body["errors"]
    assert error["code"] == "UNKNOWN"
    request_id = error["detail"]["request-id"]
    assert headers["X-Request-Id"] == request_id
    (line,) = _our_lines(caplog)
    assert request_id in line.getMessage()
    assert "KeyError" in line.getMessage()
    assert line.exc_info is None  # one line, no traceback


def test_a_bug_on_api_v1_is_a_500_problem_with_a_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    status, headers, body = asyncio.run(_get("/api/v1/bug"))
    assert status == 500
    assert headers["Content-Type"].startswith("application/problem+json")
    assert headers["X-Request-Id"] in body["detail"]
    assert "Traceback" not in body["detail"]
    assert len(_our_lines(caplog)) == 1


@pytest.mark.parametrize("path", ["/v2/x/full", "/api/v1/full"])
def test_a_full_disk_says_so(path: str, caplog: pytest.LogCaptureFixture) -> None:
    status, _headers, body = asyncio.run(_get(path))
    assert status == 507
    text = body["errors"][0]["message"] if path.startswith("/v2/") else body["detail"]
    assert "disk full" in text
    (line,) = _our_lines(caplog)
    assert "disk full" in line.getMessage()
