"""The one access-log parser: regd's (``--access-log``) and docker-registry's (Apache
combined format) both write ``"METHOD TARGET HTTP/x.y" STATUS`` in each request's line."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    #: The request target, parsed: ``.path``, ``.params``.
    url: httpx.URL
    status: int


def logged_request(line: str) -> LoggedRequest | None:
    """The request an access-log line records; None for any other line."""
    match = _REQUEST.search(line)
    if match is None:
        return None
    return LoggedRequest(match["method"], httpx.URL(match["target"]), int(match["status"]))
