"""The one access decision, and authentication of whatever credentials a client sends.

Every request — on ``/v2/``, ``/token`` and ``/api/v1/`` — is decided by
:meth:`AccessController.authorize`. Deny by default.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Final

import jwt

from regd.auth.accounts import Accounts
from regd.auth.capabilities import ADMIN, PULL
from regd.auth.grants import Grants
from regd.auth.identities import API_CLIENT_ID, Identities, IdentityError
from regd.auth.principals import ANONYMOUS, Principal
from regd.auth.signing import SigningKeys
from regd.auth.throttle import LoginThrottle
from regd.auth.tokens import Tokens, looks_like_token
from regd.caching import Cache, InFlight

#: Resource kinds: a repository (by name), a Strongbox vault, or the registry itself
#: (identities, policies, roles: name "*").
REPOSITORY: Final = "repository"
VAULT: Final = "vault"
REGISTRY: Final = "registry"
#: How long a verified Basic credential is trusted without hashing it again.
_BASIC_CACHE_SECONDS: Final = 60.0
#: Verdicts cached at most, each (least recently used first out).
BASIC_CACHE_ENTRIES: Final = 10_000
JWT_CACHE_ENTRIES: Final = 50_000


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    name: str = "*"


class AccessController:
    def __init__(
        self,
        identities: Identities,
        tokens: Tokens,
        grants: Grants,
        keys: SigningKeys,
        service: str,
    ) -> None:
        self.identities = identities
        self.tokens = tokens
        self.grants = grants
        self.keys = keys
        self.service = service
        self.throttle = LoginThrottle()
        # Verified Basic credentials (by a hash of the pair) with the ``auth`` generation
        # they were checked at; registry tokens (self-contained: no generation), until
        # they expire.
        self._basic_cache: Cache[str, Principal] = Cache(
            BASIC_CACHE_ENTRIES, ttl=_BASIC_CACHE_SECONDS
        )
        self._basic_checks: InFlight[tuple[str, int | None, int], Principal | None] = InFlight()
        self._jwt_cache: Cache[str, tuple[Principal, dict[str, Any]]] = Cache(JWT_CACHE_ENTRIES)
        self.grants.generation.on_change(self._basic_cache.clear)
        #: Multi-step changes to users, API clients and tokens, each one transaction.
        self.accounts = Accounts(
            identities.db, identities, tokens, grants, forget_credentials=self.forget_credentials
        )

    # -- the decision --------------------------------------------------------

    async def authorize(self, principal: Principal, resource: Resource, action: str) -> bool:
        """May ``principal`` do ``action`` on ``resource``? Deny by default."""
        restriction = None
        if principal.token_policies is not None:
            restriction = await self.grants.policy_grants(principal.token_policies)
            if not any(g.allows(resource.name, action) for g in restriction):
                return False
        if principal.admin:
            return True
        if principal.anonymous and action != PULL:
            return False
        held = await self.grants.grants_of(principal)
        if resource.kind == REGISTRY:
            return any(g.allows("*", action) and "*" in g.globs for g in held)
        return any(g.allows(resource.name, action) for g in held)

    async def allowed_actions(
        self, principal: Principal, resource: Resource, wanted: list[str]
    ) -> list[str]:
        return [action for action in wanted if await self.authorize(principal, resource, action)]

    async def is_registry_admin(self, principal: Principal) -> bool:
        return await self.authorize(principal, Resource(REGISTRY), ADMIN)

    # -- authentication ------------------------------------------------------

    async def authenticate_basic(self, username: str, secret: str, source: str) -> Principal | None:
        """user:password, cli-xxxxx:secret, or any-name:token. None when wrong (throttled)."""
        key = hashlib.sha256(f"{username}\0{secret}".encode()).hexdigest()
        # PostgreSQL: not what was cached before any replica changed credentials, tokens
        # or grants.
        generation = await self.grants.generation.current()
        cached = self._basic_cache.get(key, generation)
        if cached is not None:
            return cached
        # One check per credential at a time: concurrent requests with the same header
        # wait for it instead of each running argon2id (a stampede when the cache expires).
        # (Not one started before a change to credentials this request must see.)
        epoch = self._basic_cache.epoch
        return await self._basic_checks.run(
            (key, generation, epoch),
            lambda: self._check_basic(key, username, secret, source, generation, epoch),
        )

    async def _check_basic(
        self,
        key: str,
        username: str,
        secret: str,
        source: str,
        generation: int | None,
        epoch: int,
    ) -> Principal | None:
        delay = self.throttle.delay(source, username)
        if delay:
            await asyncio.sleep(delay)
        checked = await self._check_secret(username, secret)
        if checked is None:
            self.throttle.failed(source, username)
            return None
        principal, expires_at = checked
        self.throttle.succeeded(source, username)
        # Trusted for a while, but never past the expiry of the token or API client; not
        # kept when a change raced the check.
        trusted = None if expires_at is None else expires_at - time.time()
        self._basic_cache.put(key, principal, generation, epoch=epoch, expires_in=trusted)
        return principal

    async def _check_secret(
        self, username: str, secret: str
    ) -> tuple[Principal, float | None] | None:
        """The principal and when its credential expires (None: it does not)."""
        if looks_like_token(secret):
            return await self._token_principal(secret, ("personal", "session"))
        if not API_CLIENT_ID.fullmatch(username):
            # An API client's secret with any user name (docker login -u serviceaccount).
            found_id = await self.identities.api_client_by_secret(secret)
            if found_id is None:
                found = await self.identities.check_password(username, secret)
                return None if found is None else (found, None)
            username = found_id
        principal = await self.identities.check_api_client(username, secret)
        if principal is None:
            return None
        return principal, (await self.identities.api_client(username)).expires_at

    async def principal_of_token(
        self, value: str, kinds: tuple[str, ...] = ("personal", "session")
    ) -> Principal | None:
        found = await self._token_principal(value, kinds)
        return None if found is None else found[0]

    async def _token_principal(
        self, value: str, kinds: tuple[str, ...]
    ) -> tuple[Principal, float] | None:
        info = await self.tokens.check(value, kinds)
        if info is None:
            return None
        found = await self._principal(info.principal_kind, info.principal_id)
        if found is None:
            return None
        owner, owner_expires_at = found
        policies = tuple(info.policies) if info.policies is not None else None
        expires_at = min(info.expires_at, owner_expires_at or info.expires_at)
        return Principal(owner.kind, owner.id, owner.admin, info.id, policies), expires_at

    async def _principal(
        self, kind: str, principal_id: str
    ) -> tuple[Principal, float | None] | None:
        """The current state of a principal (it may have been deleted or expired since),
        and when it expires (API clients may)."""
        # Only "no such principal" means no; a database failure is an outage, not a refusal.
        if kind == "user":
            try:
                user = await self.identities.user(principal_id)
            except IdentityError:
                return None
            return Principal("user", user.name, user.admin), None
        try:
            client = await self.identities.api_client(principal_id)
        except IdentityError:
            return None
        if client.expired():
            return None
        return Principal("api-client", client.id), client.expires_at

    def forget_credentials(self) -> None:
        """Drop cached credential checks (after a password change, revocation, deletion)."""
        self._basic_cache.clear()
        self._jwt_cache.clear()
        self.grants.invalidate()

    # -- registry tokens (JWT) -----------------------------------------------

    async def issue(
        self, principal: Principal, access: list[dict[str, Any]], lifetime: float
    ) -> tuple[str, float]:
        now = time.time()
        claims: dict[str, Any] = {
            "iss": self.service,
            "sub": principal.subject,
            "aud": self.service,
            "iat": int(now),
            "nbf": int(now) - 5,
            "exp": int(now + lifetime),
            "jti": hashlib.sha256(f"{principal.subject}{now}{id(access)}".encode()).hexdigest()[
                :24
            ],
            "access": access,
        }
        if principal.admin:
            claims["adm"] = True
        if principal.token_id is not None:
            claims["tok"] = principal.token_id
            claims["pol"] = (
                list(principal.token_policies) if principal.token_policies is not None else None
            )
        return await self.keys.sign(claims), now

    async def verify_jwt(self, token: str) -> tuple[Principal, dict[str, Any]] | None:
        """The principal and claims of a valid registry token (cached for its life)."""
        cached = self._jwt_cache.get(token)
        if cached is not None:
            return cached
        if self.keys.needs_reload(token):
            # Rotated by `regd rotate-keys` (or another replica): read the keys again.
            await self.keys.reload()
        try:
            claims = self.keys.verify(token, self.service)
        except jwt.InvalidTokenError:
            return None
        principal = _principal_from_claims(claims)
        if principal is None:
            return None
        lifetime = float(claims["exp"]) - time.time()
        self._jwt_cache.put(token, (principal, claims), expires_in=lifetime)
        return principal, claims


def _principal_from_claims(claims: dict[str, Any]) -> Principal | None:
    subject = claims.get("sub")
    if subject == "anonymous":
        return ANONYMOUS
    if not isinstance(subject, str) or ":" not in subject:
        return None
    kind, _, principal_id = subject.partition(":")
    if kind not in ("user", "api-client"):
        return None
    policies = claims.get("pol")
    return Principal(
        kind,  # type: ignore[arg-type]
        principal_id,
        admin=bool(claims.get("adm")),
        token_id=claims.get("tok"),
        token_policies=tuple(policies) if isinstance(policies, list) else None,
    )


def jwt_grants(claims: dict[str, Any], resource_type: str, name: str) -> set[str]:
    """The actions a registry token grants on one resource."""
    actions: set[str] = set()
    for entry in claims.get("access") or []:
        if (
            isinstance(entry, dict)
            and entry.get("type") == resource_type
            and entry.get("name") == name
        ):
            actions.update(a for a in entry.get("actions") or [] if isinstance(a, str))
    return actions
