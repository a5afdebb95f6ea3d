"""The version check, the name and tag grammars over HTTP, and the shape of every error."""

from __future__ import annotations

import httpx
import pytest

from tests.support.oci import (
    OCI_MANIFEST,
    assert_oci_error,
    digest_of,
    push_blob,
    push_image,
    push_manifest,
)


def test_version_check_answers_with_the_api_version(http: httpx.Client) -> None:
    response = http.get("/v2/")
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert response.json() == {}


def test_every_v2_response_carries_the_api_version(http: httpx.Client) -> None:
    unknown = http.get("/v2/names-apiversion/never/tags/list")
    assert_oci_error(unknown, 404, "NAME_UNKNOWN")
    assert unknown.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize(
    "name",
    [
        "names-depth1",
        "names-depth/two",
        "names-depth/a/b/c/d/e/f/g/h/i/j",
        "names-sep/a.b/c_d/e__f/g-h/i---j",
        # Components that look like the API's own path words still parse as a name.
        "names-words/blobs/manifests/tags/uploads",
    ],
)
def test_nested_names_to_any_depth(http: httpx.Client, name: str) -> None:
    image = push_image(http, name, "v1", seed=name)
    got = http.get(f"/v2/{name}/manifests/v1")
    assert got.status_code == 200
    assert got.content == image.manifest
    assert http.get(f"/v2/{name}/blobs/{digest_of(image.layers[1])}").content == image.layers[1]
    assert http.get(f"/v2/{name}/tags/list").json() == {"name": name, "tags": ["v1"]}
    assert name in http.get("/v2/_catalog").json()["repositories"]


def test_a_name_of_255_characters_is_accepted(http: httpx.Client) -> None:
    name = "names-long/" + "a" * (255 - len("names-long/"))
    assert len(name) == 255
    push_blob(http, name, b"long name")
    assert http.head(f"/v2/{name}/blobs/{digest_of(b'long name')}").status_code == 200


INVALID_NAMES = [
    "Names-Upper",
    "names-upper/Sub",
    "names-empty//component",
    "names-trailing/",
    "-names-leading-dash",
    "names/-leading-dash",
    "names-trailing-dash-",
    ".names-dot",
    "names..double-dot",
    "names___three-underscores",
    "names/" + "a" * 250,  # 256 characters
]


@pytest.mark.parametrize("name", INVALID_NAMES)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tags/list"),
        ("GET", "/manifests/latest"),
        ("PUT", "/manifests/latest"),
        ("POST", "/blobs/uploads/"),
        ("GET", "/blobs/" + digest_of(b"x")),
        ("GET", "/referrers/" + digest_of(b"x")),
    ],
)
def test_invalid_names_are_refused(http: httpx.Client, name: str, method: str, path: str) -> None:
    response = http.request(method, f"/v2/{name}{path}", content=b"{}" if method == "PUT" else None)
    error = assert_oci_error(response, 400, "NAME_INVALID")
    assert error["detail"] == {"name": name}


def test_invalid_names_create_nothing(http: httpx.Client) -> None:
    data = b"never stored under an invalid name"
    response = http.post("/v2/Names-Nothing/blobs/uploads/", params={"digest": digest_of(data)})
    assert_oci_error(response, 400, "NAME_INVALID")
    assert "Names-Nothing" not in http.get("/v2/_catalog").json()["repositories"]


def test_unknown_repository_is_name_unknown(http: httpx.Client) -> None:
    error = assert_oci_error(http.get("/v2/names-unknown/repo/tags/list"), 404, "NAME_UNKNOWN")
    assert error["detail"] == {"name": "names-unknown/repo"}
    assert_oci_error(http.get("/v2/names-unknown/repo/manifests/v1"), 404, "NAME_UNKNOWN")


@pytest.mark.parametrize(
    "tag",
    ["-leading-dash", ".leading-dot", "a" * 129, "has+plus", "has%20space", "ünïcode"],
)
def test_invalid_tags_are_refused_on_put(http: httpx.Client, tag: str) -> None:
    image = push_image(http, "names-badtag", "ok", seed="names-badtag")
    response = push_manifest(http, "names-badtag", tag, image.manifest)
    assert_oci_error(response, 400, "TAG_INVALID")
    assert http.get("/v2/names-badtag/tags/list").json()["tags"] == ["ok"]


#: What a reference that is not a tag may get: a plain "not a tag", or "no such manifest".
_NOT_A_TAG = {("TAG_INVALID", 400), ("MANIFEST_UNKNOWN", 404)}


@pytest.mark.parametrize("tag", ["-leading-dash", "a" * 129])
@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_invalid_tags_are_a_clear_4xx_on_get_and_delete(
    http: httpx.Client, tag: str, method: str
) -> None:
    push_image(http, "names-badtag-get", "ok", seed="names-badtag-get")
    response = http.request(method, f"/v2/names-badtag-get/manifests/{tag}")
    if method == "HEAD":
        assert response.status_code in {status for _, status in _NOT_A_TAG}
        assert response.content == b""
        return
    code = response.json()["errors"][0]["code"]
    assert (code, response.status_code) in _NOT_A_TAG
    assert_oci_error(response, response.status_code, code)


def test_valid_tag_edge_cases(http: httpx.Client) -> None:
    image = push_image(http, "names-tags", "v1", seed="names-tags")
    tags = ["_underscore", "A.Upper-Case_mix", "1", "x" * 128]
    for tag in tags:
        assert push_manifest(http, "names-tags", tag, image.manifest).status_code == 201
    listed = http.get("/v2/names-tags/tags/list").json()["tags"]
    assert listed == sorted([*tags, "v1"])
    for tag in tags:
        response = http.get(f"/v2/names-tags/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        assert response.headers["Docker-Content-Digest"] == image.digest


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:abc",
        "sha256:" + "A" * 64,
        "sha256:" + "0" * 63,
        "sha512:" + "0" * 64,
        "md5:" + "0" * 32,
        "sha256",
        "sha256:" + "g" * 64,
    ],
)
def test_invalid_digests_are_digest_invalid(http: httpx.Client, digest: str) -> None:
    push_blob(http, "names-digests", b"names-digests")
    assert_oci_error(http.get(f"/v2/names-digests/blobs/{digest}"), 400, "DIGEST_INVALID")
    response = http.post("/v2/names-digests/blobs/uploads/", params={"digest": digest}, content=b"")
    assert_oci_error(response, 400, "DIGEST_INVALID")
    assert_oci_error(http.get(f"/v2/names-digests/referrers/{digest}"), 400, "DIGEST_INVALID")


def test_unsupported_method_is_an_oci_error(http: httpx.Client) -> None:
    push_blob(http, "names-method", b"names-method")
    response = http.request("PATCH", "/v2/names-method/tags/list")
    assert_oci_error(response, 405, "UNSUPPORTED")
