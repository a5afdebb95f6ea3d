"""The supctl path grammar: ``regctl VERB WORD...`` -> ``/api/v1/WORD/...``.

A WORD containing ``/`` is a nested name (``acc-x/myapp/myapp``); the words after it go
behind a ``/-/`` separator, as the API wants (``repositories/acc-x/myapp/myapp/-/tags``). A
name without a slash cannot be told from a path word, so its sub-resources take an explicit
``-`` word: ``regctl list repositories myapp - tags``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from regctl.errors import UsageError

#: The nested-name rule, as ``man regctl`` and docs/cli.md state it.
NESTED_NAMES = (
    "A WORD containing / is a nested name (acc-x/myapp/myapp); the words after it go "
    "behind a /-/ separator, as the API wants: regctl list repositories acc-x/myapp/myapp "
    "tags is GET /api/v1/repositories/acc-x/myapp/myapp/-/tags. A name without a / cannot "
    "be told from a path word, so its sub-resources take an explicit - word: regctl list "
    "repositories myapp - tags."
)

API = "/api/v1"
SEPARATOR = "-"
#: RFC 3986 pchar minus ``/``: what may stay unescaped in one path segment.
_SEGMENT_SAFE = "!$&'()*+,;=:@"


def segment(text: str) -> str:
    return quote(text, safe=_SEGMENT_SAFE)


def name_path(name: str) -> str:
    """A (possibly nested) name as path segments, each escaped."""
    parts = name.split("/")
    if any(not part for part in parts):
        raise UsageError(f"invalid name {name!r}: empty component")
    return "/".join(segment(part) for part in parts)


def api_path(words: Sequence[str]) -> str:
    """``["repositories", "a/b", "tags"]`` -> ``/repositories/a/b/-/tags``."""
    segments: list[str] = []
    for index, word in enumerate(words):
        if word == SEPARATOR:
            if not segments or segments[-1] == SEPARATOR:
                raise UsageError("'-' separates a name from its sub-resources: it needs a name")
            segments.append(SEPARATOR)
            continue
        segments.append(name_path(word))
        following = words[index + 1] if index + 1 < len(words) else None
        if "/" in word and following not in (None, SEPARATOR):
            segments.append(SEPARATOR)
    return "/" + "/".join(segments)


def split_action(arguments: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """``do`` arguments: words (the last is the action), then ``--key value`` flags.

    ``--key=value`` works too; a flag without a value is ``true``; a repeated key makes a
    list; the value ``-`` reads stdin (once).
    """
    words: list[str] = []
    flags: dict[str, Any] = {}
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument.startswith("--") and len(argument) > 2:
            key, equals, text = argument[2:].partition("=")
            value: Any = text
            if not equals:
                following = arguments[index + 1] if index + 1 < len(arguments) else None
                if following is None or following.startswith("--"):
                    value = True
                else:
                    value = following
                    index += 1
            if value == "-":
                value = sys.stdin.read().rstrip("\n")
            if key in flags:
                previous = flags[key]
                flags[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                flags[key] = value
        elif flags:
            raise UsageError(f"{argument!r} comes after the flags: words and the action go first")
        else:
            words.append(argument)
        index += 1
    if len(words) < 2:
        raise UsageError("'do' needs a path and an action, e.g. 'regctl do strongbox token create'")
    return words, flags
