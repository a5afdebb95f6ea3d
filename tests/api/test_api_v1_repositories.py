"""The management API's repository resources over real HTTP, and its OpenAPI document."""

from __future__ import annotations

import re

import httpx

from regd.app import build_app
from regd.http.api.openapi import openapi_path
from regd.settings import Settings
from tests.support.oci import push_image, push_manifest


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return dict(body)


def test_list_show_and_delete_a_nested_repository(http: httpx.Client) -> None:
    image = push_image(http, "apiv1/team/app", "1.0", seed="apiv1")
    assert push_manifest(http, "apiv1/team/app", "latest", image.manifest).status_code == 201
    push_image(http, "apiv1/other", "2.0", seed="apiv1-other")

    listing = http.get("/api/v1/repositories", params={"prefix": "apiv1/"})
    assert listing.status_code == 200
    assert [repo["name"] for repo in listing.json()] == ["apiv1/other", "apiv1/team/app"]

    shown = http.get("/api/v1/repositories/apiv1/team/app").json()
    assert shown["name"] == "apiv1/team/app"
    assert shown["tag-count"] == 2
    assert shown["manifest-count"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shown["created-at"])

    tags = http.get("/api/v1/repositories/apiv1/team/app/-/tags").json()
    assert [(tag["name"], tag["digest"]) for tag in tags] == [
        ("1.0", image.digest),
        ("latest", image.digest),
    ]
    assert (
        http.get("/api/v1/repositories/apiv1/team/app/-/tags/latest").json()["digest"]
        == image.digest
    )
    manifests = http.get("/api/v1/repositories/apiv1/team/app/-/manifests").json()
    assert [(m["digest"], m["tags"]) for m in manifests] == [(image.digest, ["1.0", "latest"])]

    assert http.delete("/api/v1/repositories/apiv1/team/app/-/tags/latest").status_code == 204
    assert http.get("/v2/apiv1/team/app/manifests/latest").status_code == 404
    assert http.get("/v2/apiv1/team/app/manifests/1.0").status_code == 200

    assert http.delete("/api/v1/repositories/apiv1/team/app").status_code == 204
    _problem(http.get("/api/v1/repositories/apiv1/team/app"), 404)
    assert http.get("/v2/apiv1/team/app/manifests/1.0").status_code == 404
    assert http.get(f"/v2/apiv1/team/app/blobs/{image.digest}").status_code == 404
    assert "apiv1/team/app" not in http.get("/v2/_catalog").json()["repositories"]
    # The name is free again: a new push starts from nothing.
    again = push_image(http, "apiv1/team/app", "3.0", seed="apiv1-again")
    assert [t["name"] for t in http.get("/api/v1/repositories/apiv1/team/app/-/tags").json()] == [
        "3.0"
    ]
    assert again.digest != image.digest


def test_errors_are_problem_json(http: httpx.Client) -> None:
    _problem(http.get("/api/v1/repositories/no/such/repo"), 404)
    _problem(http.get("/api/v1/repositories/no/such/repo/-/tags"), 404)
    _problem(http.get("/api/v1/repositories/Bad_Name"), 400)
    _problem(http.delete("/api/v1/repositories/no/such/repo"), 404)
    _problem(http.get("/api/v1/nothing-here"), 404)
    _problem(http.put("/api/v1/repositories"), 405)
    _problem(http.post("/api/v1/repositories", content=b"not json"), 400)


def test_openapi_document_matches_the_route_table(http: httpx.Client) -> None:
    document = http.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    app = build_app(Settings())
    served = {
        (route.method, openapi_path(route.resource.canonical))
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    assert served == documented


def test_delete_a_manifest_with_the_tags_pointing_at_it(http: httpx.Client) -> None:
    image = push_image(http, "apiv1/doomed", "1.0", seed="apiv1-doomed")
    assert push_manifest(http, "apiv1/doomed", "also", image.manifest).status_code == 201
    kept = push_image(http, "apiv1/doomed", "2.0", seed="apiv1-kept")
    base = "/api/v1/repositories/apiv1/doomed/-/manifests"

    _problem(http.delete(f"{base}/not-a-digest"), 400)
    _problem(http.delete(f"{base}/sha256:{'0' * 64}"), 404)
    _problem(http.delete(f"/api/v1/repositories/no/such/-/manifests/{image.digest}"), 404)

    assert http.delete(f"{base}/{image.digest}").status_code == 204
    assert [m["digest"] for m in http.get(base).json()] == [kept.digest]
    tags = http.get("/api/v1/repositories/apiv1/doomed/-/tags").json()
    assert [t["name"] for t in tags] == ["2.0"]
    assert http.get(f"/v2/apiv1/doomed/manifests/{image.digest}").status_code == 404
