"""Token lifetimes (``4h``, ``30m``, ``1y2d5h``; never unlimited) and the token format."""

from __future__ import annotations

import pytest

from regd.auth.identities import IdentityError
from regd.auth.tokens import MAX_TTL, looks_like_token, parse_ttl
from regd.errors import ErrorKind
from regd.http.token import parse_scope


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("4h", 4 * 3600),
        ("30m", 1800),
        ("1y2d5h", 365 * 86400 + 2 * 86400 + 5 * 3600),
        ("2w", 14 * 86400),
        ("90s", 90),
        ("1h30m", 5400),
        ("3600", 3600),
        (" 4H ", 4 * 3600),
        ("10y", MAX_TTL),
    ],
)
def test_a_ttl_reads_as_seconds(text: str, seconds: float) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "0", "0h", "forever", "unlimited", "4 hours", "-1h", "1h30", "h", "10y1s", "4x"]
)
def test_an_unlimited_or_unreadable_ttl_is_refused(text: str) -> None:
    with pytest.raises(IdentityError) as refused:
        parse_ttl(text)
    assert refused.value.kind is ErrorKind.INVALID


def test_only_the_regd_token_format_reads_as_a_token() -> None:
    assert looks_like_token("regd_abcdefghij12_" + "A" * 43)
    assert looks_like_token("regd_abcdefghij12_" + "a-b_c" * 5)
    assert not looks_like_token("regd_abcdefghij12_short")
    assert not looks_like_token("regd_ABCDEFGHIJ12_" + "A" * 43)  # the accessor is lowercase
    assert not looks_like_token("a-password-of-sorts-long-enough-to-be-a-secret")
    assert not looks_like_token("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")  # a JWT


@pytest.mark.parametrize(
    ("scope", "parsed"),
    [
        ("repository:team/app:pull,push", ("repository", "team/app", ["pull", "push"])),
        ("repository:team/app:pull", ("repository", "team/app", ["pull"])),
        ("registry:catalog:*", ("registry", "catalog", ["*"])),
        # a registry host with a port in the name: the actions are after the last colon
        ("repository:host:5000/app:pull", ("repository", "host:5000/app", ["pull"])),
        ("repository:team/app:pull,,push,", ("repository", "team/app", ["pull", "push"])),
    ],
)
def test_a_scope_parses(scope: str, parsed: tuple[str, str, list[str]]) -> None:
    assert parse_scope(scope) == parsed


@pytest.mark.parametrize("scope", ["", "repository", "repository:team/app", ":team/app:pull"])
def test_a_malformed_scope_is_none(scope: str) -> None:
    assert parse_scope(scope) is None
