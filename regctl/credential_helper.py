"""``docker-credential-regctl``: Docker's credential-helper protocol over regctl's logins.

With ``"credHelpers": {"reg.example.com": "regctl"}`` in docker's config.json, docker (and
skopeo, podman, buildah) ask this program for the credentials of ``reg.example.com``, and
get the token ``regctl login`` stored for the context of that host::

    docker-credential-regctl get    stdin: the server URL  -> {"ServerURL","Username","Secret"}
    docker-credential-regctl store  stdin: {"ServerURL","Username","Secret"}
    docker-credential-regctl erase  stdin: the server URL
    docker-credential-regctl list   -> {"host[:port]": "username", ...}

As the protocol wants, errors go to stdout and exit 1, and an unknown server is exactly
``credentials not found in native keychain``. A ``Username`` of ``<token>`` marks the
``Secret`` as an identity (refresh) token. ``store`` keeps what docker gives in regctl's
credential store (the keyring, else the 0600 file), in the context of the host, which it
creates when there is none (it does not change the current context when there is one).
``REGCTL_SERVER`` with ``REGCTL_TOKEN`` (or ``REGCTL_USERNAME`` + ``REGCTL_PASSWORD``)
answers ``get`` for that server first, as it overrides stored logins in regctl.

This module does not load typer: docker runs it for every pull.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from regctl import __version__

if TYPE_CHECKING:
    from regctl.credential_stores import Credentials

NOT_FOUND = "credentials not found in native keychain"
USAGE = "usage: docker-credential-regctl get|store|erase|list|version"


class HelperError(Exception):
    """Reported on stdout, exit 1."""


def _read_server() -> str:
    server = sys.stdin.read().strip()
    if not server:
        raise HelperError("no server URL on stdin")
    return server


def _from_environment(host: str) -> Credentials | None:
    from regctl.config import normalize_server, registry_host
    from regctl.credential_stores import Credentials
    from regctl.runtime import env

    server = env("REGCTL_SERVER")
    if not server or registry_host(normalize_server(server)) != host:
        return None
    token, username, password = env("REGCTL_TOKEN"), env("REGCTL_USERNAME"), env("REGCTL_PASSWORD")
    if token:
        return Credentials(username=username or "regctl", token=token)
    if username and password:
        return Credentials(username=username, password=password)
    return None


def get() -> dict[str, str]:
    from regctl.config import Config, registry_host

    server = _read_server()
    host = registry_host(server)
    credentials = _from_environment(host)
    if credentials is None:
        config = Config.load()
        context = config.for_host(host)
        if context is not None:
            credentials = config.store(context).get(context.name)
            if credentials is not None and not credentials.username:
                credentials = _with_username(credentials, context.username)
    if credentials is None or not credentials.secret:
        raise HelperError(NOT_FOUND)
    return {
        "ServerURL": server,
        "Username": credentials.username or "",
        "Secret": credentials.secret,
    }


def _with_username(credentials: Credentials, username: str | None) -> Credentials:
    from dataclasses import replace

    return replace(credentials, username=username)


def store() -> None:
    from regctl.config import Config, Context, context_name, normalize_server, registry_host
    from regctl.credential_stores import IDENTITY_TOKEN_USER, Credentials, store_credentials

    try:
        entry: Any = json.loads(sys.stdin.read())
    except ValueError as error:
        raise HelperError(f"cannot parse the credentials on stdin: {error}") from None
    if not isinstance(entry, dict) or not entry.get("ServerURL") or not entry.get("Secret"):
        raise HelperError('expected {"ServerURL", "Username", "Secret"} on stdin')
    host = registry_host(str(entry["ServerURL"]))
    username, secret = str(entry.get("Username") or ""), str(entry["Secret"])
    config = Config.load()
    context = config.for_host(host)
    if context is None:
        server = normalize_server(host)
        context = Context(context_name(server), server)
    if username == IDENTITY_TOKEN_USER:
        credentials = Credentials(username=IDENTITY_TOKEN_USER, password=secret)
    else:
        context.username = username or None
        credentials = Credentials(username=username or None, password=secret)
    store_credentials(config, context, credentials)
    config.contexts[context.name] = context
    if config.current is None:
        config.current = context.name
    config.save()


def erase() -> None:
    from regctl.config import Config, registry_host

    host = registry_host(_read_server())
    config = Config.load()
    context = config.for_host(host)
    if context is None or not config.store(context).delete(context.name):
        raise HelperError(NOT_FOUND)
    context.username = None
    config.save()


def list_() -> dict[str, str]:
    from regctl.config import Config, registry_host

    config = Config.load()
    found: dict[str, str] = {}
    for context in config.contexts.values():
        credentials = config.store(context).get(context.name)
        if credentials is not None and credentials.secret:
            found[registry_host(context.server)] = credentials.username or context.username or ""
    return found


def main(argv: list[str] | None = None) -> int:
    from regctl.errors import RegctlError
    from regctl.runtime import GLOBAL

    arguments = sys.argv[1:] if argv is None else argv
    GLOBAL.reset().quiet = True  # stderr is docker's, not the user's
    action = arguments[0] if len(arguments) == 1 else None
    try:
        if action == "get":
            sys.stdout.write(json.dumps(get()) + "\n")
        elif action == "store":
            store()
        elif action == "erase":
            erase()
        elif action == "list":
            sys.stdout.write(json.dumps(list_()) + "\n")
        elif action == "version":
            sys.stdout.write(f"docker-credential-regctl (regctl {__version__})\n")
        else:
            raise HelperError(USAGE)
    except HelperError as error:
        sys.stdout.write(f"{error}\n")
        return 1
    except RegctlError as error:
        sys.stdout.write(f"{error.message}\n")
        return 1
    except Exception as error:  # the protocol has no other channel
        sys.stdout.write(f"docker-credential-regctl: {type(error).__name__}: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
