"""X-Forwarded-* are believed only from ``trusted_proxies``; plain HTTP off loopback warns."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from regd.cli import plain_http_warning
from regd.settings import load
from tests.support.server import start_regd

HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "reg.example.com",
    "X-Forwarded-For": "203.0.113.9",
}


def _realm(url: str) -> str:
    answer = httpx.get(f"{url}/v2/", headers=HEADERS)
    assert answer.status_code == 401
    return answer.headers["WWW-Authenticate"].split('realm="')[1].split('"')[0]


def test_headers_from_a_trusted_proxy_set_the_realm(tmp_path: Path) -> None:
    regd = start_regd(tmp_path / "data", env={"REGD_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    try:
        assert _realm(regd.url) == "https://reg.example.com/token"
    finally:
        assert regd.stop() == 0


def test_headers_from_anyone_else_are_ignored(tmp_path: Path) -> None:
    regd = start_regd(tmp_path / "data", env={"REGD_TRUSTED_PROXIES": "10.0.0.0/8"})
    try:
        assert _realm(regd.url) == f"{regd.url}/token"
    finally:
        assert regd.stop() == 0


def test_a_bad_network_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^trusted_proxies: 'proxy' is not an address"):
        load({"trusted_proxies": "10.0.0.1, proxy"}, {})


@pytest.mark.parametrize(
    ("address", "warns"),
    [
        ("127.0.0.1:5000", False),
        ("[::1]:5000", False),
        ("0.0.0.0:5000", True),
        ("[::]:5000", True),
        ("192.0.2.2:5001", True),
    ],
)
def test_plain_http_off_loopback_warns(address: str, warns: bool) -> None:
    warning = plain_http_warning(address)
    assert (warning is not None) == warns
    if warning:
        assert "without TLS" in warning
        assert "insecure-registries" in warning
        assert "--tls-cert" in warning
