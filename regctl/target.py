"""What a command talks to: the server, and the credentials to send it."""

from __future__ import annotations

from dataclasses import dataclass

from regctl.config import Config, normalize_server
from regctl.credential_stores import Credentials
from regctl.runtime import DEFAULT_SERVER, env


@dataclass(frozen=True)
class Target:
    server: str
    credentials: Credentials | None
    context: str | None
    #: Where the credentials came from: ``REGCTL_TOKEN``, ``REGCTL_USERNAME`` or ``stored``.
    source: str | None = None


def resolve(server_option: str | None) -> Target:
    """The server (``--server``, ``REGCTL_SERVER``, current context, default) and credentials.

    Credentials: ``REGCTL_TOKEN``, else ``REGCTL_USERNAME`` + ``REGCTL_PASSWORD``, else those
    stored for a context whose server is the one we talk to (never another server's).
    """
    config = Config.load()
    explicit = server_option or env("REGCTL_SERVER")
    if explicit:
        server = normalize_server(explicit)
    elif config.current_context is not None:
        server = config.current_context.server
    else:
        server = DEFAULT_SERVER
    context = config.for_server(server)
    credentials: Credentials | None = None
    source: str | None = None
    token, username, password = env("REGCTL_TOKEN"), env("REGCTL_USERNAME"), env("REGCTL_PASSWORD")
    if token:
        credentials, source = Credentials(token=token), "REGCTL_TOKEN"
    elif username and password:
        credentials, source = Credentials(username=username, password=password), "REGCTL_USERNAME"
    elif context is not None:
        credentials = config.store(context).get(context.name)
        source = "stored" if credentials is not None else None
    return Target(server, credentials, context.name if context else None, source)
