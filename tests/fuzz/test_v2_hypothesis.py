"""Hypothesis over /v2: generated names, references, digests, Content-Range, Range,
pagination parameters and manifests (malformed, oversized, deeply nested, duplicate keys,
huge numbers, references to missing or foreign blobs) against a real regd.

For every request: no 5xx; every error (but a HEAD's) an OCI error body; and a request
that was refused changed nothing stored (repositories, tags, manifests, blob links, read
from regd's database after each request).

Bounded: ``FUZZ_EXAMPLES`` examples per test (``REGD_FUZZ_EXAMPLES`` overrides it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.oci import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Image,
    digest_of,
    push_blob,
    push_image,
)
from tests.support.server import RegdProcess, start_regd

pytestmark = pytest.mark.fuzz

FUZZ_EXAMPLES = int(os.environ.get("REGD_FUZZ_EXAMPLES", "20")) * 4
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
REPO = "fuzz/app"
FOREIGN = "fuzz/other"


@dataclass
class World:
    regd: RegdProcess
    http: httpx.Client
    image: Image
    foreign_blob: str

    def stored(self) -> dict[str, list[tuple[Any, ...]]]:
        """What a refused request must not change."""
        with sqlite3.connect(f"file:{self.regd.data_dir / 'regd.db'}?mode=ro", uri=True) as db:
            queries = {
                "repositories": "SELECT id, name FROM repositories",
                "tags": "SELECT repository_id, name, digest FROM tags",
                "manifests": "SELECT repository_id, digest, content FROM manifests",
                "blob links": "SELECT repository_id, digest FROM repository_blobs",
                "blobs": "SELECT digest FROM blobs",
            }
            return {what: sorted(db.execute(sql).fetchall()) for what, sql in queries.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    regd = start_regd(tmp_path_factory.mktemp("fuzz-v2"))
    try:
        with regd.client() as http:
            image = push_image(http, REPO, "v1", seed="fuzz")
            foreign = push_blob(http, FOREIGN, b"a blob of another repository")
            yield World(regd, http, image, foreign)
    finally:
        regd.stop()
    assert "internal error" not in regd.log, regd.log
    assert "Traceback" not in regd.log, regd.log


def _check(world: World, method: str, url: str, **request: Any) -> httpx.Response:
    """Send one request; no 5xx, an OCI error body on errors, nothing changed if refused."""
    before = world.stored()
    response = world.http.request(method, url, **request)
    where = f"{method} {url} {request.get('headers', '')}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        if method != "HEAD":
            body = response.json()
            assert isinstance(body, dict), body
            assert set(body) == {"errors"}, body
            assert all(isinstance(error["code"], str) for error in body["errors"]), body
            assert all(isinstance(error["message"], str) for error in body["errors"]), body
        assert world.stored() == before, f"{where} was refused but changed what is stored"
    return response


# -- strategies -------------------------------------------------------------------------------

_NAME_CHARS = string.ascii_lowercase + string.digits + "._-/" + "A%é:@"
names = st.one_of(
    st.sampled_from([REPO, FOREIGN, "fuzz", "fuzz/app/deeper", "no/such/repo"]),
    st.text(_NAME_CHARS, min_size=1, max_size=40).filter(
        lambda name: not name.startswith("/") and "//" not in name and "?" not in name
    ),
    st.just("a" * 300),
)
hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
digests = st.one_of(
    hex64.map(lambda h: f"sha256:{h}"),
    st.sampled_from(["sha256:", "sha256:xyz", "md5:abcd", "sha512:ab", "", "sha256:" + "A" * 64]),
    st.text(string.printable.strip(), min_size=1, max_size=80).filter(lambda d: "/" not in d),
)
tags = st.one_of(
    st.sampled_from(["v1", "latest", "-bad", "." * 3, "x" * 129]),
    st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=130),
)
references = st.one_of(tags, digests)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "abc", "1e3", "-0", " 5", "9" * 40]),
)
_HEADER_TEXT = string.ascii_letters + string.digits + string.punctuation + " "
content_ranges = st.one_of(
    st.tuples(st.integers(-5, 2**64), st.integers(-5, 2**64)).map(lambda r: f"{r[0]}-{r[1]}"),
    st.sampled_from(["", "bytes=0-3", "0-", "-3", "a-b", "0-3/10", "0-3/*", "bytes 0-3/4"]),
    st.text(_HEADER_TEXT, max_size=30).map(str.strip),
)
ranges = st.one_of(
    st.tuples(st.integers(0, 2**64), st.integers(0, 2**64)).map(lambda r: f"bytes={r[0]}-{r[1]}"),
    st.integers(0, 2**64).map(lambda n: f"bytes=-{n}"),
    st.integers(0, 2**64).map(lambda n: f"bytes={n}-"),
    st.sampled_from(["bytes=", "bytes=a-b", "items=0-1", "bytes=0-1,5-6", "bytes=5-1"]),
    st.text(_HEADER_TEXT, max_size=30).map(str.strip).filter(bool),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _descriptor(media_type: str, digest: str, size: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size}


@st.composite
def manifests(draw: st.DrawFn, world_image: Image, foreign_blob: str) -> tuple[bytes, str]:
    """(body, Content-Type): mostly almost-valid manifests, broken in one place."""
    config = _descriptor(OCI_CONFIG, digest_of(world_image.config), len(world_image.config))
    layer_digest = draw(
        st.sampled_from([digest_of(world_image.layers[0]), foreign_blob, digest_of(b"missing")])
        | digests
    )
    size = draw(
        st.sampled_from([len(world_image.layers[0]), -1, 2**63, 10**40, 1.5, "3", None, True])
    )
    document: dict[str, Any] = {
        "schemaVersion": draw(st.sampled_from([2, 1, 3, "2", 2**70])),
        "mediaType": draw(st.sampled_from([OCI_MANIFEST, OCI_INDEX, "text/plain", 7])),
        "config": draw(st.sampled_from([config, {}, [], None])),
        "layers": [_descriptor(OCI_LAYER, layer_digest, size)],
    }
    if draw(st.booleans()):
        document[draw(st.sampled_from(["annotations", "subject", "manifests", "extra"]))] = draw(
            json_values
        )
    body = json.dumps(document).encode()
    kind = draw(st.sampled_from(["document", "nested", "huge", "duplicate", "garbage", "big"]))
    if kind == "nested":
        depth = draw(st.integers(500, 200_000))
        body = b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    elif kind == "huge":
        body = body.replace(b'"schemaVersion": ', b'"schemaVersion": ' + b"9" * 5_000, 1)
    elif kind == "duplicate":
        body = b'{"schemaVersion": 2, ' + body[1:]
    elif kind == "garbage":
        body = draw(st.binary(max_size=200))
    elif kind == "big":
        body = body[:-1] + b', "pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    content_type = draw(st.sampled_from([OCI_MANIFEST, OCI_INDEX, "application/json", ""]))
    return body, content_type


# -- the properties -----------------------------------------------------------------------------


@FUZZ
@given(method=st.sampled_from(["GET", "HEAD", "DELETE"]), name=names, reference=references)
def test_manifest_reads_and_deletes_of_generated_names(
    world: World, method: str, name: str, reference: str
) -> None:
    # Never the stored image itself: its deletion would be accepted, not refused.
    if name == REPO and reference in ("v1", world.image.digest) and method == "DELETE":
        return
    _check(world, method, f"/v2/{name}/manifests/{reference}")


@FUZZ
@given(data=st.data(), name=st.sampled_from([REPO, FOREIGN, "fuzz/new"]), tag=tags)
def test_generated_manifests_are_refused_or_stored(
    world: World, data: st.DataObject, name: str, tag: str
) -> None:
    body, content_type = data.draw(manifests(world.image, world.foreign_blob))
    headers = {"Content-Type": content_type} if content_type else {}
    _check(world, "PUT", f"/v2/{name}/manifests/{tag}", content=body, headers=headers)


@FUZZ
@given(method=st.sampled_from(["GET", "HEAD", "DELETE"]), name=names, digest=digests)
def test_blob_requests_with_generated_digests(
    world: World, method: str, name: str, digest: str
) -> None:
    if method == "DELETE" and name in (REPO, FOREIGN):
        return  # a DELETE of a linked blob would be accepted
    _check(world, method, f"/v2/{name}/blobs/{digest}")


@FUZZ
@given(header=ranges)
def test_blob_gets_with_generated_ranges(world: World, header: str) -> None:
    layer = digest_of(world.image.layers[0])
    response = _check(world, "GET", f"/v2/{REPO}/blobs/{layer}", headers={"Range": header})
    assert response.status_code in (200, 206, 416), response.status_code


@FUZZ
@given(
    content_range=content_ranges,
    chunk=st.binary(max_size=64),
    digest=st.one_of(digests, st.just("")),
)
def test_upload_sessions_with_generated_ranges_and_digests(
    world: World, content_range: str, chunk: bytes, digest: str
) -> None:
    started = world.http.post(f"/v2/{REPO}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    headers = {"Content-Range": content_range} if content_range else {}
    _check(world, "PATCH", location, content=chunk, headers=headers)
    _check(world, "PUT", location, params={"digest": digest} if digest else {})
    world.http.delete(location)


@FUZZ
@given(
    path=st.sampled_from(["/v2/_catalog", f"/v2/{REPO}/tags/list", "/v2/no/such/tags/list"]),
    n=numbers,
    last=st.one_of(st.none(), tags, st.text(max_size=300)),
)
def test_pagination_with_generated_parameters(
    world: World, path: str, n: str, last: str | None
) -> None:
    params = {"n": n} if last is None else {"n": n, "last": last}
    _check(world, "GET", path, params=params)
