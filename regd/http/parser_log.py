"""What aiohttp logs when a client sends something that is not HTTP.

aiohttp's server logs every request its parser refuses (a 9,000-character request line, a
bad Content-Length, broken chunked framing, an unknown method) at ERROR with a traceback:
any anonymous client could fill the log that way. The client already got its 400; the log
gets one WARNING line without a traceback, at most one every ``interval`` seconds, saying
how many more there were.
"""

from __future__ import annotations

import logging
import time

from aiohttp.http_exceptions import HttpProcessingError

LOGGER = "aiohttp.server"


class ParserErrorLog(logging.Filter):
    def __init__(self, interval: float = 10.0) -> None:
        super().__init__()
        self._interval = interval
        self._last = -interval
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        now = time.monotonic()
        if now - self._last < self._interval:
            self._suppressed += 1
            return False
        self._last = now
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        message = (error.message or "").strip().splitlines()
        more = f" ({self._suppressed} more since the last one)" if self._suppressed else ""
        self._suppressed = 0
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg = "bad HTTP request from %s: %s%s"
        record.args = (peer, message[0][:120] if message else error.code, more)
        return True


def install() -> None:
    """Once per process (every application built in it shares aiohttp's logger)."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(existing, ParserErrorLog) for existing in logger.filters):
        logger.addFilter(ParserErrorLog())
