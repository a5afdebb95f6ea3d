"""Registry credentials in the forms other tools read: Docker's ``config.json``, a Kubernetes
``kubernetes.io/dockerconfigjson`` Secret, shell variables; and merging into ``config.json``.

The Kubernetes form is byte for byte what ``kubectl create secret docker-registry NAME
--docker-server=S --docker-username=U --docker-password=P --dry-run=client -o yaml`` prints
(less its meaningless ``creationTimestamp: null``): keys sorted, and the embedded JSON
compact and escaped the way Go's ``encoding/json`` escapes it.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
from pathlib import Path
from typing import Any

from regctl.errors import UsageError


def basic_auth(username: str, secret: str) -> str:
    """``base64("user:secret")``, the ``auth`` field of Docker's config.json."""
    return base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")


def go_json(data: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it: UTF-8, ``<>&`` and U+2028/9 escaped."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def docker_config(host: str, username: str, secret: str) -> dict[str, Any]:
    """``{"auths": {HOST: {"auth": base64("user:secret")}}}``, as ``oc registry login`` writes."""
    return {"auths": {host: {"auth": basic_auth(username, secret)}}}


def k8s_secret(name: str, host: str, username: str, secret: str) -> str:
    """The YAML of ``kubectl create secret docker-registry`` (see the module docstring)."""
    entry = {"username": username, "password": secret, "auth": basic_auth(username, secret)}
    config = go_json({"auths": {host: entry}})
    encoded = base64.b64encode(config.encode()).decode("ascii")
    import yaml

    document = {
        "apiVersion": "v1",
        "data": {".dockerconfigjson": encoded},
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/dockerconfigjson",
    }
    text: str = yaml.safe_dump(document, sort_keys=True, default_flow_style=False, width=1 << 20)
    return text


def env_lines(server: str, username: str, secret: str) -> str:
    """``REGCTL_SERVER``, ``REGCTL_USERNAME``, ``REGCTL_PASSWORD``: for ``eval`` or a .env file."""
    pairs = (("REGCTL_SERVER", server), ("REGCTL_USERNAME", username), ("REGCTL_PASSWORD", secret))
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in pairs)


def dumps_config(data: dict[str, Any]) -> str:
    """JSON as docker writes its config.json (tab-indented)."""
    return json.dumps(data, indent="\t") + "\n"


def docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    directory = os.environ.get("DOCKER_CONFIG")
    base = Path(directory).expanduser() if directory else Path.home() / ".docker"
    return base / "config.json"


def read_docker_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"cannot parse {path}: line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"cannot parse {path}: expected a JSON object")
    return data


def merge_docker_config(path: Path, host: str, username: str, secret: str) -> list[str]:
    """Set ``auths[HOST]`` in the config.json at ``path`` (mode 0600), keeping the rest.

    Returns warnings: a credential store or helper docker asks before ``auths``.
    """
    from regctl.config import write_private

    data = read_docker_config(path)
    auths = data.get("auths")
    if not isinstance(auths, dict):
        auths = {}
    auths[host] = docker_config(host, username, secret)["auths"][host]
    data["auths"] = auths
    write_private(path, dumps_config(data), 0o600)
    warnings = []
    helpers = data.get("credHelpers")
    if isinstance(helpers, dict) and host in helpers:
        warnings.append(
            f"{path} names the credential helper {helpers[host]!r} for {host}: docker asks it "
            "and not this entry"
        )
    elif data.get("credsStore"):
        warnings.append(
            f"{path} names the credential store {data['credsStore']!r}: docker asks it "
            f"for {host} before this entry"
        )
    return warnings
