"""The registry answers the version check and serves a pushed image back byte for byte."""

from __future__ import annotations

import httpx

from tests.support.oci import OCI_MANIFEST, push_image


def test_version_check(http: httpx.Client) -> None:
    response = http.get("/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_health(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}


def test_push_and_pull_nested_name(http: httpx.Client) -> None:
    image = push_image(http, "acc-x/myapp/myapp", "1.0")
    response = http.get("/v2/acc-x/myapp/myapp/manifests/1.0", headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 200
    assert response.content == image.manifest
    assert response.headers["Docker-Content-Digest"] == image.digest
    assert response.headers["Content-Type"] == OCI_MANIFEST
    blob = http.get(f"/v2/acc-x/myapp/myapp/blobs/{response.json()['layers'][0]['digest']}")
    assert blob.content == image.layers[0]
