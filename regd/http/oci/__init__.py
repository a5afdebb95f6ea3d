"""The OCI Distribution Spec v1.1 API under /v2/."""

from __future__ import annotations

from aiohttp import web

from regd.http.oci import blobs, listing, manifests, uploads
from regd.http.oci.common import API_VERSION_HEADER


async def version_check(_request: web.Request) -> web.Response:
    """``GET /v2/``: the registry speaks the v2 API."""
    return web.json_response({})


async def _add_api_version(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/v2"):
        response.headers[API_VERSION_HEADER] = "registry/2.0"


def add_routes(app: web.Application) -> None:
    """Register /v2/ routes; order matters (uploads before blobs, catalog before names)."""
    name = "/v2/{name:.+}"
    router = app.router
    router.add_get("/v2/", version_check)
    router.add_get("/v2/_catalog", listing.catalog)
    router.add_post(name + "/blobs/uploads/", uploads.start)
    router.add_post(name + "/blobs/uploads", uploads.start)
    upload = name + "/blobs/uploads/{uuid}"
    router.add_patch(upload, uploads.patch)
    router.add_put(upload, uploads.finish)
    router.add_get(upload, uploads.status)
    router.add_delete(upload, uploads.cancel)
    blob = name + "/blobs/{digest}"
    router.add_head(blob, blobs.head)
    router.add_get(blob, blobs.get, allow_head=False)
    router.add_delete(blob, blobs.delete)
    manifest = name + "/manifests/{reference}"
    router.add_get(manifest, manifests.get)  # HEAD too: same headers, no body
    router.add_put(manifest, manifests.put)
    router.add_delete(manifest, manifests.delete)
    router.add_get(name + "/tags/list", listing.tags)
    router.add_get(name + "/referrers/{digest}", listing.referrers)
    app.on_response_prepare.append(_add_api_version)
