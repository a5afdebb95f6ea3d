"""Tags list and ``_catalog`` (order, ``n``/``last`` pagination, ``Link``) and referrers."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import httpx
import pytest

from tests.support.oci import (
    EMPTY_BLOB,
    EMPTY_JSON,
    OCI_INDEX,
    OCI_MANIFEST,
    assert_oci_error,
    descriptor,
    digest_of,
    push_blob,
    push_image,
    push_manifest,
)
from tests.support.server import RegdProcess

_LINK = re.compile(r'<(?P<url>[^>]+)>;\s*rel="next"')


def _walk(client: httpx.Client, path: str, key: str, n: int) -> tuple[list[str], int]:
    """Follow ``Link`` headers from ``path?n=``; every item and how many pages it took."""
    items: list[str] = []
    pages = 0
    url: str | None = f"{path}?n={n}"
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.text
        page = response.json()[key]
        assert len(page) <= n
        items.extend(page)
        pages += 1
        link = response.headers.get("Link")
        if link is None:
            url = None
        else:
            match = _LINK.fullmatch(link.strip())
            assert match is not None, link
            url = match.group("url")
            assert url.startswith(path + "?"), link
            assert len(page) == n
        assert pages < 100
    return items, pages


# -- tags ------------------------------------------------------------------------------------

TAGS = ["v1.0", "latest", "A-upper", "_under", "v1.10", "v1.2", "0", "zeta", "beta"]


@pytest.fixture(scope="module")
def tagged(regd: RegdProcess) -> str:
    name = "listing-tags/app"
    with regd.client() as client:
        image = push_image(client, name, "first", seed=name)
        for tag in TAGS:
            assert push_manifest(client, name, tag, image.manifest).status_code == 201
    return name


def test_tags_are_sorted(http: httpx.Client, tagged: str) -> None:
    response = http.get(f"/v2/{tagged}/tags/list")
    assert response.status_code == 200
    assert response.json() == {"name": tagged, "tags": sorted([*TAGS, "first"])}
    assert "Link" not in response.headers


@pytest.mark.parametrize("n", [1, 2, 3, 9, 10])
def test_tags_pagination(http: httpx.Client, tagged: str, n: int) -> None:
    everything = sorted([*TAGS, "first"])
    items, pages = _walk(http, f"/v2/{tagged}/tags/list", "tags", n)
    assert items == everything
    assert pages == -(-len(everything) // n)


def test_tags_n_larger_than_the_list(http: httpx.Client, tagged: str) -> None:
    response = http.get(f"/v2/{tagged}/tags/list", params={"n": 1000})
    assert response.json()["tags"] == sorted([*TAGS, "first"])
    assert "Link" not in response.headers


def test_tags_last(http: httpx.Client, tagged: str) -> None:
    everything = sorted([*TAGS, "first"])
    response = http.get(f"/v2/{tagged}/tags/list", params={"last": "latest"})
    assert response.json()["tags"] == [tag for tag in everything if tag > "latest"]
    response = http.get(f"/v2/{tagged}/tags/list", params={"n": 2, "last": "beta"})
    assert response.json()["tags"] == everything[everything.index("beta") + 1 :][:2]
    # A ``last`` that is not a tag still orders.
    response = http.get(f"/v2/{tagged}/tags/list", params={"last": "v1.1"})
    assert response.json()["tags"] == [tag for tag in everything if tag > "v1.1"]
    response = http.get(f"/v2/{tagged}/tags/list", params={"last": "zzz"})
    assert response.json() == {"name": tagged, "tags": []}


def test_tags_n_zero(http: httpx.Client, tagged: str) -> None:
    response = http.get(f"/v2/{tagged}/tags/list", params={"n": 0})
    assert response.status_code == 200
    assert response.json() == {"name": tagged, "tags": []}
    assert "Link" not in response.headers
    assert_oci_error(http.get("/v2/listing-tags/unknown/tags/list?n=0"), 404, "NAME_UNKNOWN")


@pytest.mark.parametrize("n", ["-1", "x", "1.5", "0x10", " "])
def test_bad_n_is_400(http: httpx.Client, tagged: str, n: str) -> None:
    for path in (f"/v2/{tagged}/tags/list", "/v2/_catalog"):
        response = http.get(path, params={"n": n})
        error = assert_oci_error(response, 400, "PAGINATION_NUMBER_INVALID")
        assert error["detail"] == {"n": n}


def test_repository_without_tags(http: httpx.Client) -> None:
    push_blob(http, "listing-tags/untagged", b"a blob but no tags")
    response = http.get("/v2/listing-tags/untagged/tags/list")
    assert response.json() == {"name": "listing-tags/untagged", "tags": []}


def test_unknown_repository(http: httpx.Client) -> None:
    assert_oci_error(http.get("/v2/listing-tags/nothing/tags/list"), 404, "NAME_UNKNOWN")


def _tags(client: httpx.Client, name: str, **params: str | int) -> list[str]:
    response = client.get(f"/v2/{name}/tags/list", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == name
    return list(response.json()["tags"])


# Listings are cached per repository in the serving process; every tag change must show in
# the very next listing, whole or paginated.


def test_a_pushed_tag_is_listed_at_once(http: httpx.Client) -> None:
    name = "listing-cache/push"
    image = push_image(http, name, "b", seed=name)
    assert _tags(http, name) == ["b"]
    assert _tags(http, name, n=1) == ["b"]
    for tag in ("a", "c", "bb"):
        assert push_manifest(http, name, tag, image.manifest).status_code == 201
        assert tag in _tags(http, name)
    assert _tags(http, name) == ["a", "b", "bb", "c"]
    assert _tags(http, name, last="b") == ["bb", "c"]
    # Moving a tag to another manifest changes no name.
    other = push_image(http, name, "c", seed=name + "-other")
    assert other.digest != image.digest
    assert _tags(http, name) == ["a", "b", "bb", "c"]


def test_a_deleted_tag_is_gone_at_once(http: httpx.Client) -> None:
    name = "listing-cache/delete"
    image = push_image(http, name, "keep", seed=name)
    other = push_image(http, name, "solo", seed=name + "-other")
    for tag in ("x", "y"):
        assert push_manifest(http, name, tag, image.manifest).status_code == 201
    assert _tags(http, name) == ["keep", "solo", "x", "y"]
    assert _tags(http, name, n=2, last="keep") == ["solo", "x"]
    # By tag, through the OCI API and through the management API.
    assert http.delete(f"/v2/{name}/manifests/x").status_code == 202
    assert _tags(http, name) == ["keep", "solo", "y"]
    assert _tags(http, name, n=2, last="keep") == ["solo", "y"]
    assert http.delete(f"/api/v1/repositories/{name}/-/tags/solo").status_code == 204
    assert _tags(http, name) == ["keep", "y"]
    # By digest: every tag of that manifest goes.
    assert http.delete(f"/v2/{name}/manifests/{image.digest}").status_code == 202
    assert _tags(http, name) == []
    assert _tags(http, name, n=5) == []
    assert http.get(f"/v2/{name}/manifests/{other.digest}").status_code == 200


def test_a_deleted_repository_is_unknown_at_once_and_starts_afresh(http: httpx.Client) -> None:
    name = "listing-cache/repository"
    image = push_image(http, name, "old", seed=name)
    assert push_manifest(http, name, "older", image.manifest).status_code == 201
    assert _tags(http, name) == ["old", "older"]
    assert _tags(http, name, n=1) == ["old"]
    assert http.delete(f"/api/v1/repositories/{name}").status_code == 204
    assert_oci_error(http.get(f"/v2/{name}/tags/list"), 404, "NAME_UNKNOWN")
    assert_oci_error(http.get(f"/v2/{name}/tags/list?n=1"), 404, "NAME_UNKNOWN")
    push_image(http, name, "new", seed=name + "-again")
    assert _tags(http, name) == ["new"]
    assert _tags(http, name, last="a") == ["new"]


def test_pagination_over_a_cached_listing_sees_changes_between_pages(http: httpx.Client) -> None:
    name = "listing-cache/pages"
    image = push_image(http, name, "t00", seed=name)
    everything = [f"t{i:02d}" for i in range(0, 40, 2)]
    for tag in everything[1:]:
        assert push_manifest(http, name, tag, image.manifest).status_code == 201
    whole = http.get(f"/v2/{name}/tags/list")
    assert whole.json() == {"name": name, "tags": everything}
    assert whole.headers["Content-Type"] == "application/json; charset=utf-8"
    for n in (1, 3, 7, 20, 21):
        items, pages = _walk(http, f"/v2/{name}/tags/list", "tags", n)
        assert items == everything
        assert pages == -(-len(everything) // n)
    # A tag pushed after the first page and sorting after it is on a later page;
    # one deleted from a later page is not.
    first = http.get(f"/v2/{name}/tags/list", params={"n": 5})
    assert first.json()["tags"] == everything[:5]
    match = _LINK.fullmatch(first.headers["Link"].strip())
    assert match is not None
    assert push_manifest(http, name, "t09", image.manifest).status_code == 201
    assert http.delete(f"/v2/{name}/manifests/t10").status_code == 202
    second = http.get(match.group("url"))
    assert second.json()["tags"] == ["t09", "t12", "t14", "t16", "t18"]
    assert _tags(http, name, last="t08", n=2) == ["t09", "t12"]
    assert _tags(http, name, last="t38") == []


def test_listings_racing_pushes_and_deletes_never_go_stale(regd: RegdProcess) -> None:
    """Listings run in threads all along, so cache loads and refills interleave with the
    changes; whichever listing starts after a push or delete has returned must show it.
    (A smoke test: the window in which a load races a commit is too short to hit every
    run, so it does not prove the epoch guard on its own.)"""
    name = "listing-cache/race"
    stop = threading.Event()
    errors: list[str] = []

    def hammer() -> None:
        with regd.client() as client:
            while not stop.is_set():
                response = client.get(f"/v2/{name}/tags/list")
                if response.status_code != 200:
                    errors.append(response.text)

    with regd.client() as client:
        image = push_image(client, name, "base", seed=name)
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            expected = {"base"}
            for i in range(30):
                tag = f"r{i:02d}"
                assert push_manifest(client, name, tag, image.manifest).status_code == 201
                expected.add(tag)
                assert set(_tags(client, name)) == expected
                if i % 3 == 2:
                    assert client.delete(f"/v2/{name}/manifests/{tag}").status_code == 202
                    expected.discard(tag)
                    assert set(_tags(client, name)) == expected
                    assert _tags(client, name, last=f"r{i - 1:02d}") == []
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert errors == []


# -- catalog ---------------------------------------------------------------------------------


REPOSITORIES = ["zeta", "alpha/one", "alpha/two/deep", "alpha-beta", "alpha", "b.c", "m__n", "0"]


def test_catalog(fresh_regd: RegdProcess) -> None:
    with fresh_regd.client() as client:
        empty = client.get("/v2/_catalog")
        assert empty.status_code == 200
        assert empty.json() == {"repositories": []}
        for name in REPOSITORIES:
            push_blob(client, name, name.encode())
        response = client.get("/v2/_catalog")
        assert response.json() == {"repositories": sorted(REPOSITORIES)}
        assert "Link" not in response.headers
        for n in (1, 3, 8):
            items, pages = _walk(client, "/v2/_catalog", "repositories", n)
            assert items == sorted(REPOSITORIES)
            assert pages == -(-len(REPOSITORIES) // n)
        zero = client.get("/v2/_catalog", params={"n": 0})
        assert zero.status_code == 200
        assert zero.json() == {"repositories": []}
        assert "Link" not in zero.headers
        after = client.get("/v2/_catalog", params={"last": "alpha/one", "n": 2})
        assert after.json() == {"repositories": ["alpha/two/deep", "b.c"]}
        assert _LINK.fullmatch(after.headers["Link"])
        for bad in ("-1", "abc"):
            response = client.get("/v2/_catalog", params={"n": bad})
            assert_oci_error(response, 400, "PAGINATION_NUMBER_INVALID")
        # The catalog is served from memory: every creation and deletion shows at once.
        assert client.delete("/api/v1/repositories/zeta").status_code == 204
        remaining = sorted(set(REPOSITORIES) - {"zeta"})
        assert client.get("/v2/_catalog").json() == {"repositories": remaining}
        assert client.post("/api/v1/repositories", json={"name": "new/empty"}).status_code == 201
        mounted = client.post(
            "/v2/new/mounted/blobs/uploads/", params={"mount": digest_of(b"0"), "from": "0"}
        )
        assert mounted.status_code == 201, mounted.text
        expected = sorted([*remaining, "new/empty", "new/mounted"])
        assert client.get("/v2/_catalog").json() == {"repositories": expected}
        assert _walk(client, "/v2/_catalog", "repositories", 2)[0] == expected


# -- referrers -------------------------------------------------------------------------------

SBOM = "application/vnd.example.sbom.v1+json"
SIGNATURE = "application/vnd.example.signature.v1"


def _refer(
    client: httpx.Client,
    name: str,
    subject: bytes,
    artifact_type: str | None,
    annotations: dict[str, str] | None,
    config_media_type: str = EMPTY_JSON,
    payload: bytes = b"payload",
) -> tuple[bytes, dict[str, Any]]:
    """Push a manifest whose subject is ``subject``; its bytes and its expected descriptor."""
    push_blob(client, name, EMPTY_BLOB)
    push_blob(client, name, payload)
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        document["artifactType"] = artifact_type
    document["config"] = descriptor(config_media_type, EMPTY_BLOB)
    document["layers"] = [descriptor("application/octet-stream", payload)]
    document["subject"] = descriptor(OCI_MANIFEST, subject)
    if annotations:
        document["annotations"] = annotations
    content = json.dumps(document, indent=1).encode()
    put = push_manifest(client, name, digest_of(content), content)
    assert put.status_code == 201, put.text
    assert put.headers["OCI-Subject"] == digest_of(subject)
    expected: dict[str, Any] = {
        "mediaType": OCI_MANIFEST,
        "digest": digest_of(content),
        "size": len(content),
        "artifactType": artifact_type or config_media_type,
    }
    if annotations:
        expected["annotations"] = annotations
    return content, expected


def _referrers(
    client: httpx.Client, name: str, digest: str, artifact_type: str | None = None
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    params = {"artifactType": artifact_type} if artifact_type else None
    response = client.get(f"/v2/{name}/referrers/{digest}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == OCI_INDEX
    body = response.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    assert isinstance(body["manifests"], list)
    return response, body["manifests"]


def _by_digest(descriptors: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["digest"]: d for d in descriptors}


def test_referrers(http: httpx.Client) -> None:
    name = "listing-referrers/app"
    subject = push_image(http, name, "v1", seed=name)
    other = push_image(http, name, "v2", seed=name + "-other")
    _, sbom = _refer(http, name, subject.manifest, SBOM, {"org.example.kind": "sbom"})
    _, signature = _refer(
        http, name, subject.manifest, SIGNATURE, {"org.example.signer": "ci"}, payload=b"sig"
    )
    # No artifactType: the config's media type stands in for it.
    _, untyped = _refer(
        http, name, subject.manifest, None, None, "application/vnd.example.config.v1+json"
    )
    _, elsewhere = _refer(http, name, other.manifest, SBOM, {"org.example.kind": "other"})

    response, found = _referrers(http, name, subject.digest)
    assert "OCI-Filters-Applied" not in response.headers
    assert _by_digest(found) == _by_digest([sbom, signature, untyped])
    assert len(found) == 3

    response, found = _referrers(http, name, subject.digest, SBOM)
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    assert found == [sbom]
    response, found = _referrers(http, name, subject.digest, "application/vnd.nothing")
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    assert found == []

    _, found = _referrers(http, name, other.digest)
    assert found == [elsewhere]

    # Deleting a referrer removes it from the list.
    assert http.delete(f"/v2/{name}/manifests/{signature['digest']}").status_code == 202
    _, found = _referrers(http, name, subject.digest)
    assert _by_digest(found) == _by_digest([sbom, untyped])


def test_referrers_of_an_index_subject_and_an_index_referrer(http: httpx.Client) -> None:
    name = "listing-referrers/index"
    child = push_image(http, name, "child", seed=name)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [descriptor(OCI_MANIFEST, child.manifest)],
        }
    ).encode()
    assert push_manifest(http, name, "index", index, OCI_INDEX).status_code == 201
    referrer = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "artifactType": "application/vnd.example.bundle",
            "manifests": [descriptor(OCI_MANIFEST, child.manifest)],
            "subject": descriptor(OCI_INDEX, index),
            "annotations": {"org.example": "bundle"},
        }
    ).encode()
    put = push_manifest(http, name, digest_of(referrer), referrer, OCI_INDEX)
    assert put.status_code == 201
    assert put.headers["OCI-Subject"] == digest_of(index)
    _, found = _referrers(http, name, digest_of(index))
    assert found == [
        {
            "mediaType": OCI_INDEX,
            "digest": digest_of(referrer),
            "size": len(referrer),
            "artifactType": "application/vnd.example.bundle",
            "annotations": {"org.example": "bundle"},
        }
    ]


def test_referrers_are_per_repository(http: httpx.Client) -> None:
    subject = push_image(http, "listing-referrers/a", "v1", seed="listing-referrers-iso")
    _refer(http, "listing-referrers/a", subject.manifest, SBOM, None)
    push_image(http, "listing-referrers/b", "v1", seed="listing-referrers-iso")
    _, found = _referrers(http, "listing-referrers/b", subject.digest)
    assert found == []


def test_referrers_of_unknown_subject_or_repository_is_an_empty_index(http: httpx.Client) -> None:
    push_image(http, "listing-referrers/empty", "v1", seed="listing-referrers-empty")
    for name in ("listing-referrers/empty", "listing-referrers/never-pushed"):
        response, found = _referrers(http, name, digest_of(b"nobody refers to this"))
        assert found == []
        response, found = _referrers(http, name, digest_of(b"x", "sha512"), SBOM)
        assert found == []
        assert response.headers["OCI-Filters-Applied"] == "artifactType"


@pytest.mark.parametrize("digest", ["nope", "sha256:123", "sha256:" + "Z" * 64])
def test_referrers_with_invalid_digest_is_400(http: httpx.Client, digest: str) -> None:
    response = http.get(f"/v2/listing-referrers/app/referrers/{digest}")
    assert_oci_error(response, 400, "DIGEST_INVALID")
