"""``GET /metrics`` (Prometheus text format) and the middleware counting every request.

The endpoint wants a registry admin (Basic, a personal token, an API client secret —
as /api/v1/) unless ``metrics_public`` is set. The middleware labels a request with its
face and, on /v2/, the kind of its matched route: never its path.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_urldispatcher import AbstractResource
from prometheus_client import generate_latest
from prometheus_client.metrics import Counter, Histogram

from regd.http.api.auth import authenticate_api, require_admin
from regd.http.keys import SETTINGS
from regd.metrics import Metrics

METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
PATH: Final = "/metrics"
#: The classic text format (what every Prometheus parses; our names need no escaping).
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"})
#: /v2/ route kinds, by a piece of the route's pattern (first match wins).
_KINDS: Final = (
    ("/blobs/uploads", "uploads"),
    ("/blobs/", "blobs"),
    ("/manifests/", "manifests"),
    ("/tags/list", "tags"),
    ("/referrers/", "referrers"),
    ("/_catalog", "catalog"),
)

_Children = tuple[Counter, Histogram]


def face_of(path: str) -> str:
    if path.startswith("/v2"):
        return "v2"
    if path.startswith("/token"):
        return "token"
    if path.startswith("/api/"):
        return "api"
    return "other"


def kind_of(pattern: str) -> str:
    """The kind of a /v2/ route from its pattern (``/v2/{name}/blobs/{digest}``...)."""
    for piece, kind in _KINDS:
        if piece in pattern:
            return kind
    return "base"


class _RequestMetrics:
    """The labelled children per (route, method, status), bound once: a request costs a
    dict lookup, an increment and an observation."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._children: dict[tuple[object, str, int], _Children] = {}

    def children(
        self, resource: AbstractResource | None, path: str, method: str, status: int
    ) -> _Children:
        # Keys are bounded like the labels: a request that matched no route is keyed by its
        # face, an unknown method (clients may send any token) is "other".
        face = face_of(resource.canonical if resource is not None else path)
        method = method if method in _METHODS else "other"
        key = (resource if resource is not None else face, method, status)
        found = self._children.get(key)
        if found is None:
            kind = "none"
            if resource is not None:
                kind = kind_of(resource.canonical) if face == "v2" else ""
            found = (
                self.metrics.http_requests.labels(face, kind, method, str(status)),
                self.metrics.http_duration.labels(face, kind, method),
            )
            self._children[key] = found
        return found

    def record(self, request: web.Request, status: int, started: float) -> None:
        found = self.children(
            request.match_info.route.resource, request.path, request.method, status
        )
        found[0].inc()
        found[1].observe(time.perf_counter() - started)


#: A FileResponse's (recorder, start): counted once ``prepare`` has settled its status.
_PENDING: Final = "regd.metrics.pending"


class CountedFileResponse(web.FileResponse):
    """A blob GET by sendfile: its status (200, 206, 304, 416...) and body length are only
    known in ``prepare``, after the middleware; they are counted there, and its duration
    includes sending the body."""

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        try:
            writer = await super().prepare(request)
        finally:
            pending = request.pop(_PENDING, None) if isinstance(request, web.Request) else None
            if pending is not None:
                pending[0].record(request, self.status, pending[1])
        if pending is not None and self.status in (200, 206) and self.content_length:
            pending[0].metrics.blob_bytes_sent.inc(self.content_length)
        return writer


def middleware(metrics: Metrics) -> Middleware:
    bound = _RequestMetrics(metrics)
    children = bound._children
    clock = time.perf_counter

    @web.middleware
    async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = clock()
        later = False  # a FileResponse, counted by its prepare()
        try:
            response = await handler(request)
        except web.HTTPException as error:
            status = error.status
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away
            raise
        except BaseException:
            status = 500
            raise
        else:
            if type(response) is CountedFileResponse and not response.prepared:
                request[_PENDING] = (bound, started)
                later = True
                return response
            status = response.status
            return response
        finally:
            if not later:
                resource = request.match_info.route.resource
                # The common case: a route, a method and a status seen before.
                found = (
                    children.get((resource, request.method, status))
                    if resource is not None
                    else None
                )
                if found is None:
                    found = bound.children(resource, request.path, request.method, status)
                found[0].inc()
                found[1].observe(clock() - started)

    return metrics_middleware


async def _require_admin(request: web.Request) -> None:
    """The same authentication as /api/v1/, then ``authorize()`` on the registry."""
    await authenticate_api(request)
    await require_admin(request)


async def scrape(request: web.Request) -> web.Response:
    if not request.app[SETTINGS].metrics_public:
        await _require_admin(request)
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, scrape)
