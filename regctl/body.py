"""Request bodies: YAML or JSON from stdin (a heredoc) or ``-f FILE``.

A parse error names the line and column, counted from 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from regctl.errors import UsageError
from regctl.runtime import say


def read_body(file: str | None) -> Any:
    if file is None or file == "-":
        if sys.stdin.isatty():
            say("reading the body (YAML or JSON) from the terminal; end it with Ctrl-D")
        source, text = "stdin", sys.stdin.read()
    else:
        source = file
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot read {file}: {error.strerror or error}") from None
        except UnicodeDecodeError:
            raise UsageError(f"cannot read {file}: not UTF-8 text") from None
    return parse_body(text, source)


def parse_body(text: str, source: str = "stdin") -> Any:
    if not text.strip():
        raise UsageError(f"empty body on {source}: give YAML or JSON on stdin or with -f FILE")
    if text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(
                f"cannot parse the body ({source}, JSON): line {error.lineno}, "
                f"column {error.colno}: {error.msg}"
            ) from None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 -- a safe loader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = error.problem or error.context or "invalid YAML"
        raise UsageError(f"cannot parse the body ({source}, YAML): {where}{problem}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"cannot parse the body ({source}, YAML): {error}") from None
