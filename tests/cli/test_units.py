"""The pure parts of regctl, in-process: path words, do flags, bodies, server URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from regctl.body import parse_body
from regctl.config import Config, Context, Credentials, FileStore, normalize_server
from regctl.errors import UsageError
from regctl.paths import api_path, split_action


@pytest.mark.parametrize(
    ("words", "path"),
    [
        (["repositories"], "/repositories"),
        (["repositories", "acc-x/myapp/myapp"], "/repositories/acc-x/myapp/myapp"),
        (["repositories", "acc-x/myapp/myapp", "tags"], "/repositories/acc-x/myapp/myapp/-/tags"),
        (["repositories", "a/b", "tags", "1.0"], "/repositories/a/b/-/tags/1.0"),
        (["repositories", "a/b", "-", "tags"], "/repositories/a/b/-/tags"),
        (["repositories", "myapp", "-", "tags"], "/repositories/myapp/-/tags"),
        (["repositories", "myapp", "tags"], "/repositories/myapp/tags"),
        (["strongbox", "vaults", "my vault"], "/strongbox/vaults/my%20vault"),
        (
            ["image-registry", "remote-registries", "reg.example.com:6000"],
            "/image-registry/remote-registries/reg.example.com:6000",
        ),
    ],
)
def test_api_path(words: list[str], path: str) -> None:
    assert api_path(words) == path


@pytest.mark.parametrize("words", [["-", "tags"], ["repositories", "a", "-", "-"], ["a//b"]])
def test_api_path_refuses(words: list[str]) -> None:
    with pytest.raises(UsageError):
        api_path(words)


def test_split_action() -> None:
    words, flags = split_action(
        [
            "strongbox",
            "token",
            "create-token",
            "--ttl",
            "4h",
            "--policies",
            "a",
            "--policies=b",
            "--force",
        ]
    )
    assert words == ["strongbox", "token", "create-token"]
    assert flags == {"ttl": "4h", "policies": ["a", "b"], "force": True}
    with pytest.raises(UsageError):
        split_action(["token", "create", "--ttl", "4h", "stray"])
    with pytest.raises(UsageError):
        split_action(["create"])


def test_parse_body_positions() -> None:
    assert parse_body("name: x\nlist: [1, 2]\n") == {"name": "x", "list": [1, 2]}
    assert parse_body('  {"a": 1}') == {"a": 1}
    with pytest.raises(UsageError, match=r"line 3, column 1: "):
        parse_body("a: 1\nb: [\n")
    with pytest.raises(UsageError, match=r"JSON\): line 1, column 7"):
        parse_body('{"a": }')


@pytest.mark.parametrize(
    ("given", "server"),
    [
        ("localhost:5000", "http://localhost:5000"),
        ("127.0.0.1:5000/", "http://127.0.0.1:5000"),
        ("reg.example.com", "https://reg.example.com"),
        ("http://reg.example.com:8080", "http://reg.example.com:8080"),
    ],
)
def test_normalize_server(given: str, server: str) -> None:
    assert normalize_server(given) == server


def test_credentials_stay_with_their_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored login is only sent to the server it was made for."""
    from regctl.config import resolve

    config = Config(tmp_path / "config.yaml")
    config.contexts["a"] = Context("a", "http://127.0.0.1:7001", "alice")
    config.current = "a"
    config.save()
    FileStore(config).put("a", Credentials(username="alice", password="secret"))
    for name in ("REGCTL_SERVER", "REGCTL_TOKEN", "REGCTL_USERNAME", "REGCTL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REGCTL_CONFIG", str(config.path))

    assert resolve(None).credentials == Credentials(username="alice", password="secret")
    assert resolve("http://127.0.0.1:7001").context == "a"
    other = resolve("http://127.0.0.1:7002")
    assert (other.server, other.credentials, other.context) == ("http://127.0.0.1:7002", None, None)
