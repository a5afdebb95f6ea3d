"""Grants over repository globs, namespaces, built-in policies and roles."""

from __future__ import annotations

import pytest

from regd.auth.capabilities import (
    ADMIN,
    BUILTIN_POLICIES,
    DELETE,
    PULL,
    PUSH,
    ROLES,
    STRONGBOX_READ,
    builtin_policy,
    grant,
    namespace_globs,
)
from regd.auth.identities import IdentityError, normalize_grants
from regd.errors import ErrorKind


def test_a_star_spans_slashes() -> None:
    everything = grant([PULL], ["*"])
    assert everything.allows("app", PULL)
    assert everything.allows("acc-x/myapp/myapp", PULL)
    assert not everything.allows("app", PUSH)
    team = grant([PULL, PUSH], ["team/*"])
    assert team.allows("team/app", PUSH)
    assert team.allows("team/a/b/c", PULL)
    assert not team.allows("team", PULL)
    assert not team.allows("teams/app", PULL)
    assert not team.allows("other/team/app", PULL)


def test_a_glob_is_matched_case_sensitively_and_whole() -> None:
    exact = grant([PULL], ["team/app"])
    assert exact.allows("team/app", PULL)
    assert not exact.allows("team/app2", PULL)
    assert not exact.allows("Team/app", PULL)
    assert not exact.allows("x/team/app", PULL)


def test_a_namespace_covers_itself_and_below_but_not_its_neighbours() -> None:
    globs = namespace_globs("/team/")
    assert globs == ("team", "team/*")
    covered = grant([PULL], globs)
    assert covered.allows("team", PULL)
    assert covered.allows("team/app", PULL)
    assert not covered.allows("teamx", PULL)
    assert not covered.allows("teamx/app", PULL)


def test_builtin_policies_and_roles() -> None:
    assert set(BUILTIN_POLICIES) == {
        "registry-pull",
        "registry-push",
        "registry-delete",
        "registry-admin",
        "strongbox-read",
        "strongbox-write",
    }
    expected = {
        "registry-pull": {PULL},
        "registry-push": {PULL, PUSH},
        "registry-delete": {PULL, DELETE},
        "registry-admin": {PULL, PUSH, DELETE, ADMIN},
    }
    for name, capabilities in expected.items():
        grants = builtin_policy(name)
        assert grants is not None
        assert [(g.capabilities, g.globs) for g in grants] == [(frozenset(capabilities), ("*",))]
    assert builtin_policy("strongbox-read") == [grant([STRONGBOX_READ], ["*"])]
    assert builtin_policy("no-such-policy") is None
    assert ROLES["registry-viewer"][1] == {PULL}
    assert ROLES["registry-editor"][1] == {PULL, PUSH}


def test_grants_are_validated_and_pull_is_the_default_capability() -> None:
    assert normalize_grants(None) == []
    assert normalize_grants([{"repositories": ["a/*"]}]) == [
        {"capabilities": ["pull"], "repositories": ["a/*"]}
    ]
    assert normalize_grants(
        [{"capabilities": ["push", "pull", "push"], "repositories": ["a"]}]
    ) == [{"capabilities": ["pull", "push"], "repositories": ["a"]}]


@pytest.mark.parametrize(
    "raw",
    [
        {"capabilities": ["pull"]},
        [{"capabilities": ["pull"]}],
        [{"capabilities": ["pull"], "repositories": []}],
        [{"capabilities": ["pull"], "repositories": [""]}],
        [{"capabilities": ["fly"], "repositories": ["a"]}],
        [{"capabilities": "pull", "repositories": ["a"]}],
        ["pull on a"],
    ],
)
def test_malformed_grants_are_refused(raw: object) -> None:
    with pytest.raises(IdentityError) as refused:
        normalize_grants(raw)
    assert refused.value.kind is ErrorKind.INVALID
