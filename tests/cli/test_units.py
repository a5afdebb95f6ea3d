"""The pure parts of regctl, in-process: path words, do flags, bodies, server URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from regctl.body import parse_body
from regctl.config import Config, Context, normalize_server
from regctl.credential_stores import Credentials, FileStore
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
    from regctl.target import resolve

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


def test_k8s_secret_is_what_kubectl_prints() -> None:
    """The bytes of ``kubectl create secret docker-registry pull --docker-server=127.0.0.1:5000
    --docker-username=cli-abcde --docker-password='s3cr:et' --dry-run=client -o yaml`` (less
    ``creationTimestamp: null``); test_identity.py compares with a live kubectl too."""
    from regctl.credential_formats import k8s_secret

    assert k8s_secret("pull", "127.0.0.1:5000", "cli-abcde", "s3cr:et") == (
        "apiVersion: v1\n"
        "data:\n"
        "  .dockerconfigjson: eyJhdXRocyI6eyIxMjcuMC4wLjE6NTAwMCI6eyJ1c2VybmFtZSI6ImNsaS1hYmNkZ"
        "SIsInBhc3N3b3JkIjoiczNjcjpldCIsImF1dGgiOiJZMnhwTFdGaVkyUmxPbk16WTNJNlpYUT0ifX19\n"
        "kind: Secret\n"
        "metadata:\n"
        "  name: pull\n"
        "type: kubernetes.io/dockerconfigjson\n"
    )


def test_go_json_escapes_as_go_does() -> None:
    from regctl.credential_formats import go_json

    assert go_json({"a": "<&>é\u2028"}) == '{"a":"\\u003c\\u0026\\u003eé\\u2028"}'


@pytest.mark.parametrize(
    ("given", "reference"),
    [
        ("alice", "user:alice"),
        ("cli-ab12c", "api-client:cli-ab12c"),
        ("cli-caroline", "user:cli-caroline"),
        ("api-client:cli-ab12c", "api-client:cli-ab12c"),
        ("public", "public"),
    ],
)
def test_principal_ref(given: str, reference: str) -> None:
    from regctl.commands import principal_ref

    assert principal_ref(given) == reference


def test_do_flags_are_typed_by_the_schema() -> None:
    from regctl.commands.paths import _typed

    assert _typed("a,b", {"type": "array"}) == ["a", "b"]
    assert _typed(["a", "b,c"], {"type": ["array", "null"]}) == ["a", "b", "c"]
    assert _typed("300", {"type": "integer"}) == 300
    assert _typed("true", {"type": "boolean"}) is True
    assert _typed("4h", {"type": "string"}) == "4h"
    assert _typed("x", None) == "x"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://Reg.Example.com/v1/", "reg.example.com"),
        ("reg.example.com/team/app", "reg.example.com"),
    ],
)
def test_registry_host(url: str, host: str) -> None:
    from regctl.config import registry_host

    assert registry_host(url) == host


def test_no_keyring_on_the_fail_or_null_backend() -> None:
    import keyring
    from keyring.backends import fail, null

    from regctl.credential_stores import working_keyring

    for backend in (fail.Keyring(), null.Keyring()):
        keyring.set_keyring(backend)
        assert working_keyring() is None
