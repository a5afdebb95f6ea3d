"""Typed keys for what handlers find on the application and the request."""

from __future__ import annotations

from aiohttp import web

from regd.auth.access import AccessController
from regd.auth.principals import Principal
from regd.registry import Registry
from regd.remotes.config import Remotes
from regd.remotes.pullthrough import PullThrough
from regd.settings import Settings
from regd.strongbox.vaults import Vaults

REGISTRY: web.AppKey[Registry] = web.AppKey("registry", Registry)
ACCESS: web.AppKey[AccessController] = web.AppKey("access", AccessController)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
STRONGBOX: web.AppKey[Vaults] = web.AppKey("strongbox", Vaults)
REMOTES: web.AppKey[Remotes] = web.AppKey("remotes", Remotes)
PULLTHROUGH: web.AppKey[PullThrough] = web.AppKey("pullthrough", PullThrough)
#: The authenticated principal of a request (set by the auth middleware).
PRINCIPAL = "regd.principal"


def principal(request: web.Request) -> Principal:
    found = request.get(PRINCIPAL)
    assert isinstance(found, Principal), "auth middleware did not run"
    return found
