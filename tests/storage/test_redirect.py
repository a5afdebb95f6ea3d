"""``storage_redirect``: blob GETs on object storage answer 307 to a presigned S3 URL or a
Swift temp URL; httpx and skopeo follow it and get the right bytes (Range too), without
regd's credentials."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.e2e.clients import make_skopeo
from tests.e2e.conftest import require_tool
from tests.support.images import read_blob, write_image_layout
from tests.support.oci import digest_of, push_blob
from tests.support.swift import SwiftServer, regd_on_object_storage, swift_server_fixture

__all__ = ["swift_server_fixture"]


@pytest.mark.parametrize("driver", ["swift", "s3"])
def test_blob_gets_redirect_to_the_object_store(
    driver: str, swift_server: SwiftServer, tmp_path: Path
) -> None:
    skopeo = require_tool("skopeo")
    env = {"REGD_STORAGE_REDIRECT": "1"}
    server = regd_on_object_storage(swift_server, driver, tmp_path / "data", env=env)
    data = os.urandom(3 << 20)
    try:
        with server.client() as http:
            digest = push_blob(http, "redirect/app", data)
            path = f"/v2/redirect/app/blobs/{digest}"
            answer = http.get(path)
            assert answer.status_code == 307
            location = answer.headers["Location"]
            assert location.startswith(swift_server.endpoint)
            # The signed URL alone is enough: no regd credentials, no object-store token.
            direct = httpx.get(location)
            assert direct.status_code == 200
            assert direct.content == data
            ranged = httpx.get(location, headers={"Range": "bytes=10-19"})
            assert ranged.status_code == 206
            assert ranged.content == data[10:20]
            assert http.get(path, follow_redirects=True).content == data
            # Unauthenticated clients still get regd's 401, never a redirect.
            assert httpx.get(f"{server.url}{path}").status_code == 401

        client = make_skopeo(skopeo, tmp_path / "skopeo", server, server.admin_creds)
        image = write_image_layout(tmp_path / "src", "1.0", seed=f"redirect-{driver}")
        client.push(image, "redirect/image", "1.0")
        client.pull("redirect/image", "1.0", tmp_path / "back")
        for layer in image.layers:
            assert read_blob(tmp_path / "back", layer.digest) == layer.blob
        assert digest_of(data) == digest
    finally:
        assert server.stop() == 0, server.log
