"""``/api/v1/strongbox/vaults[/{vault}[/secrets[/{secret}]]]``: vaults and secrets.

Writing needs ``strongbox-write`` on the vault; reading anything of a vault (its secrets'
names, keys and values) needs ``strongbox-read`` on it, and the vault listing shows only
the vaults the caller may read (deny by default: names alone tell an attacker what to
look for). A secret can also be rendered as a Docker ``config.json`` or a Kubernetes
dockerconfigjson Secret: a secret with a ``config.json`` key (OpenSVC keeps the whole
file in one key) as itself, one with ``username``+``password`` or ``token`` as a new
config.json for ``?server=``. PATCH changes some keys of a secret (a JSON merge patch)
without resending the others.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from regd.auth.access import VAULT, Resource
from regd.auth.capabilities import STRONGBOX_READ, STRONGBOX_WRITE
from regd.errors import ErrorKind, RequestError
from regd.http.api.auth import require
from regd.http.api.common import json_body, timestamp
from regd.http.api.routes import DENIED, ApiRoute
from regd.http.keys import ACCESS, STRONGBOX, principal
from regd.strongbox.vaults import Secret, Vault

BASE = "/api/v1/strongbox/vaults"
_VAULT = BASE + "/{vault}"
_SECRETS = _VAULT + "/secrets"
_SECRET = _SECRETS + "/{secret}"


def _vault(vault: Vault) -> dict[str, Any]:
    body: dict[str, Any] = {"name": vault.name, "secret-count": vault.secret_count}
    if vault.distribute is not None:
        body["distribute"] = vault.distribute
    body["created-at"] = timestamp(vault.created_at)
    return body


def _secret(secret: Secret) -> dict[str, Any]:
    body: dict[str, Any] = {"name": secret.name, "keys": secret.keys}
    if secret.allow_image_access is not None:
        body["allow-image-access"] = secret.allow_image_access
    if secret.data is not None:
        body["data"] = secret.data
    if secret.base64_data:
        body["base64-data"] = secret.base64_data
    body["created-at"] = timestamp(secret.created_at)
    body["updated-at"] = timestamp(secret.updated_at)
    return body


async def _may_read(request: web.Request, vault: str) -> bool:
    return await request.app[ACCESS].authorize(
        principal(request), Resource(VAULT, vault), STRONGBOX_READ
    )


async def _read(request: web.Request) -> str:
    vault = request.match_info["vault"]
    await require(request, Resource(VAULT, vault), STRONGBOX_READ)
    return vault


async def _write(request: web.Request) -> str:
    vault = request.match_info["vault"]
    await require(request, Resource(VAULT, vault), STRONGBOX_WRITE)
    return vault


async def list_vaults(request: web.Request) -> web.Response:
    found = [v for v in await request.app[STRONGBOX].all() if await _may_read(request, v.name)]
    return web.json_response([_vault(v) for v in found])


async def create_vault(request: web.Request) -> web.Response:
    body = await json_body(request)
    name = body.get("name")
    await require(request, Resource(VAULT, str(name)), STRONGBOX_WRITE)
    vault = await request.app[STRONGBOX].create(name, body.get("distribute"))
    return web.json_response(_vault(vault), status=201)


async def show_vault(request: web.Request) -> web.Response:
    return web.json_response(_vault(await request.app[STRONGBOX].get(await _read(request))))


async def replace_vault(request: web.Request) -> web.Response:
    """PUT: create or replace (supctl's ``replace`` upserts)."""
    vault = await _write(request)
    body = await json_body(request)
    if body.get("name", vault) != vault:
        raise RequestError(ErrorKind.INVALID, "the name in the body differs from the path")
    return web.json_response(
        _vault(await request.app[STRONGBOX].create(vault, body.get("distribute"), replace=True))
    )


async def delete_vault(request: web.Request) -> web.Response:
    await request.app[STRONGBOX].delete(await _write(request))
    return web.Response(status=204)


async def list_secrets(request: web.Request) -> web.Response:
    found = await request.app[STRONGBOX].secrets(await _read(request))
    return web.json_response([_secret(s) for s in found])


async def create_secret(request: web.Request) -> web.Response:
    vault = await _write(request)
    secret = await request.app[STRONGBOX].put_secret(
        vault, await json_body(request), create_only=True
    )
    return web.json_response(_secret(secret), status=201)


async def show_secret(request: web.Request) -> web.Response:
    vault, name = await _read(request), request.match_info["secret"]
    return web.json_response(_secret(await request.app[STRONGBOX].secret(vault, name, True)))


async def replace_secret(request: web.Request) -> web.Response:
    vault = await _write(request)
    body = await json_body(request)
    name = request.match_info["secret"]
    if body.setdefault("name", name) != name:
        raise RequestError(ErrorKind.INVALID, "the name in the body differs from the path")
    secret = await request.app[STRONGBOX].put_secret(vault, body, create_only=False)
    return web.json_response(_secret(secret))


async def merge_secret(request: web.Request) -> web.Response:
    """PATCH: a JSON merge patch on the secret's body (``{"data": {"key": "new"}}``)."""
    vault = await _write(request)
    patch = await json_body(request)
    secret = await request.app[STRONGBOX].merge_secret(vault, request.match_info["secret"], patch)
    return web.json_response(_secret(secret))


async def delete_secret(request: web.Request) -> web.Response:
    vault = await _write(request)
    await request.app[STRONGBOX].delete_secret(vault, request.match_info["secret"])
    return web.Response(status=204)


async def _config(request: web.Request) -> dict[str, Any]:
    """The Docker config.json a secret stands for: its ``config.json`` key as it is (the
    OpenSVC shape), else one made of ``username``+``password`` or ``token`` for ?server=."""
    vault, name = request.match_info["vault"], request.match_info["secret"]
    await require(request, Resource(VAULT, vault), STRONGBOX_READ)
    values = await request.app[STRONGBOX].values(vault, name)
    if "config.json" in values:
        try:
            config = json.loads(values["config.json"])
        except json.JSONDecodeError as error:
            raise RequestError(
                ErrorKind.INVALID, f"the secret's config.json is not JSON: {error}"
            ) from None
        if not isinstance(config, dict):
            raise RequestError(ErrorKind.INVALID, "the secret's config.json is not a JSON object")
        return config
    server = request.query.get("server")
    if not server:
        raise RequestError(
            ErrorKind.INVALID,
            "?server=HOST is required (regctl: --registry HOST): the registry these "
            "credentials are for",
        )
    if "username" in values and "password" in values:
        user, password = values["username"], values["password"]
    elif "token" in values:
        user, password = values.get("username", "<token>"), values["token"]
    else:
        raise RequestError(
            ErrorKind.INVALID,
            "the secret holds neither config.json, nor username+password, nor token",
        )
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"auths": {server: {"username": user, "password": password, "auth": auth}}}


async def docker_config(request: web.Request) -> web.Response:
    return web.json_response(await _config(request))


async def k8s_secret(request: web.Request) -> web.Response:
    """A ``kubernetes.io/dockerconfigjson`` Secret, as ``kubectl create secret docker-registry``."""
    config = json.dumps(await _config(request), separators=(",", ":"))
    return web.json_response(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": request.query.get("name") or request.match_info["secret"]},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
        }
    )


_VAULT_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "distribute": {"type": "object"},
        "secret-count": {"type": "integer"},
        "created-at": {"type": "string"},
    },
}
_SECRET_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "keys": {"type": "array", "items": {"type": "string"}},
        "allow-image-access": {"type": "array", "items": {"type": "string"}},
        "data": {"type": "object", "additionalProperties": {"type": "string"}},
        "base64-data": {"type": "object", "additionalProperties": {"type": "string"}},
        "created-at": {"type": "string"},
        "updated-at": {"type": "string"},
    },
}
#: A JSON merge patch of a secret: like the secret, but null removes a key (RFC 7396).
_SECRET_PATCH_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "allow-image-access": {"type": ["array", "null"], "items": {"type": "string"}},
        "data": {
            "type": ["object", "null"],
            "additionalProperties": {"type": ["string", "null"]},
        },
        "base64-data": {
            "type": ["object", "null"],
            "additionalProperties": {"type": ["string", "null"]},
        },
    },
}
_NO_VAULT = {404: "no such vault", **DENIED}
_NO_SECRET = {404: "no such vault or secret", **DENIED}
_SERVER = (("server", "the registry host the credentials are for (not for a config.json secret)"),)

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute(
        "GET",
        BASE,
        list_vaults,
        "List vaults",
        "strongbox",
        {200: "vaults", **DENIED},
        {"type": "array", "items": _VAULT_SCHEMA},
    ),
    ApiRoute(
        "POST",
        BASE,
        create_vault,
        "Create a vault",
        "strongbox",
        {201: "created", 400: "invalid", 409: "exists", **DENIED},
        _VAULT_SCHEMA,
        _VAULT_SCHEMA,
    ),
    ApiRoute(
        "GET",
        _VAULT,
        show_vault,
        "Show a vault",
        "strongbox",
        {200: "the vault", **_NO_VAULT},
        _VAULT_SCHEMA,
    ),
    ApiRoute(
        "PUT",
        _VAULT,
        replace_vault,
        "Create or replace a vault",
        "strongbox",
        {200: "stored", 400: "invalid", **DENIED},
        _VAULT_SCHEMA,
        _VAULT_SCHEMA,
    ),
    ApiRoute(
        "DELETE",
        _VAULT,
        delete_vault,
        "Delete a vault and its secrets",
        "strongbox",
        {204: "deleted", **_NO_VAULT},
    ),
    ApiRoute(
        "GET",
        _SECRETS,
        list_secrets,
        "List a vault's secrets (names and keys)",
        "strongbox",
        {200: "secrets, without values", **_NO_VAULT},
        {"type": "array", "items": _SECRET_SCHEMA},
    ),
    ApiRoute(
        "POST",
        _SECRETS,
        create_secret,
        "Create a secret",
        "strongbox",
        {201: "created", 400: "invalid", 409: "exists", **_NO_VAULT},
        _SECRET_SCHEMA,
        _SECRET_SCHEMA,
    ),
    ApiRoute(
        "GET",
        _SECRET,
        show_secret,
        "Show a secret (values with strongbox-read)",
        "strongbox",
        {200: "the secret", **_NO_SECRET},
        _SECRET_SCHEMA,
    ),
    ApiRoute(
        "PUT",
        _SECRET,
        replace_secret,
        "Create or replace a secret",
        "strongbox",
        {200: "stored", 400: "invalid", **_NO_VAULT},
        _SECRET_SCHEMA,
        _SECRET_SCHEMA,
    ),
    ApiRoute(
        "PATCH",
        _SECRET,
        merge_secret,
        "Change some keys of a secret (JSON merge patch; null removes a key)",
        "strongbox",
        {200: "stored", 400: "invalid", **_NO_SECRET},
        _SECRET_SCHEMA,
        _SECRET_PATCH_SCHEMA,
    ),
    ApiRoute(
        "DELETE",
        _SECRET,
        delete_secret,
        "Delete a secret",
        "strongbox",
        {204: "deleted", **_NO_SECRET},
    ),
    ApiRoute(
        "GET",
        _SECRET + "/docker-config",
        docker_config,
        "The secret as a Docker config.json",
        "strongbox",
        {200: "config.json", 400: "no credentials in the secret", **_NO_SECRET},
        {"type": "object"},
        query=_SERVER,
    ),
    ApiRoute(
        "GET",
        _SECRET + "/k8s-secret",
        k8s_secret,
        "The secret as a Kubernetes dockerconfigjson Secret",
        "strongbox",
        {200: "the Secret manifest", 400: "no credentials in the secret", **_NO_SECRET},
        {"type": "object"},
        query=(*_SERVER, ("name", "the Secret's metadata.name")),
    ),
)
