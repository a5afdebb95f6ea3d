"""Who is asking: a user, an API client, or nobody."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PrincipalKind = Literal["anonymous", "user", "api-client"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    id: str = ""
    admin: bool = False
    #: Set when the caller authenticated with a personal access token: its accessor, and
    #: the policy names it is limited to (None: everything its owner may do).
    token_id: str | None = None
    token_policies: tuple[str, ...] | None = None

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def subject(self) -> str:
        """``user:alice``, ``api-client:cli-ab12c`` or ``anonymous`` (the JWT ``sub``)."""
        return "anonymous" if self.anonymous else f"{self.kind}:{self.id}"

    def __str__(self) -> str:
        return self.subject


ANONYMOUS = Principal("anonymous")
