"""The supctl grammar: ``regctl VERB WORD...`` maps to ``METHOD /api/v1/WORD/...``.

Path verbs print YAML by default, like supctl; ``-o`` overrides.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import typer

from regctl.commands import connect
from regctl.options import FileOption, Format, Globals, common_options, say
from regctl.output import emit, names
from regctl.paths import API, api_path, split_action

if TYPE_CHECKING:
    from regctl.client import Api

PANEL = "Path grammar (supctl)"
MERGE_PATCH = "application/merge-patch+json"
WORDS_HELP = (
    "Path words: /api/v1/WORD/WORD/... A word with a '/' is a nested name; the words after "
    "it go behind '/-/'. A '-' word is that separator, for names without a '/'."
)

Words = Annotated[list[str], typer.Argument(metavar="WORD", help=WORDS_HELP, show_default=False)]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        metavar="KEY=VALUE",
        help="A query parameter for the request (repeatable): regctl show strongbox vaults V "
        "secrets S docker-config --param server=docker.io.",
        show_default=False,
    ),
]


def _query_path(words: list[str], params: list[str] | None) -> str:
    """The API path of ``words`` with ``--param`` pairs as its query string."""
    from urllib.parse import urlencode

    from regctl.errors import UsageError

    pairs: list[tuple[str, str]] = []
    for text in params or []:
        key, separator, value = text.partition("=")
        if not separator or not key:
            raise UsageError(f"--param {text!r}: write KEY=VALUE")
        pairs.append((key, value))
    path = api_path(words)
    return f"{path}?{urlencode(pairs)}" if pairs else path


ActionWords = Annotated[
    list[str],
    typer.Argument(
        metavar="WORD",
        help="WORD... ACTION [--KEY VALUE]...: the path, the action, then its "
        "parameters. '--KEY=VALUE' works too; a bare '--KEY' is true; '-' as a VALUE "
        "reads stdin; put '--' before a KEY "
        "that regctl itself uses (-- --format x).",
        show_default=False,
    ),
]


def _write(
    options: Globals,
    method: str,
    words: list[str],
    file: str | None,
    done: str,
    content_type: str = "application/json",
    params: list[str] | None = None,
) -> None:
    from regctl.body import read_body

    path = _query_path(words, params)
    body = read_body(file)
    with connect(options) as api:
        result = _call(api, method, path, body, content_type)
    if result is None:
        say(f"{done} {API}{path}")
    emit(result, options.format or Format.yaml)


def typed_flags(api: Api, path: str, flags: dict[str, Any]) -> dict[str, Any]:
    """``do`` flags typed by the request schema of ``POST path`` in regd's OpenAPI document.

    Strings are what the command line gives; the schema says which keys are lists,
    numbers or booleans. Without a document or a schema, the flags go as they are.
    """
    response = api.send("GET", f"{API}/openapi.json")
    document = response.json() if response.is_success else {}
    properties: dict[str, Any] = {}
    for template, methods in (document.get("paths") or {}).items():
        if re.fullmatch(_pattern(template), API + path) and isinstance(methods, dict):
            schema = (
                methods.get("post", {})
                .get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
            )
            properties = schema.get("properties") or {}
            break
    return {key: _typed(value, properties.get(key)) for key, value in flags.items()}


def _typed(value: Any, schema: Any) -> Any:
    kinds = schema.get("type") if isinstance(schema, dict) else None
    kinds = kinds if isinstance(kinds, list) else [kinds]
    values = value if isinstance(value, list) else [value]
    if "array" in kinds:
        return [
            part.strip() if isinstance(item, str) else item
            for item in values
            for part in (item.split(",") if isinstance(item, str) else [item])
            if not isinstance(part, str) or part.strip()
        ]
    if isinstance(value, str):
        if "boolean" in kinds and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if "integer" in kinds and re.fullmatch(r"-?[0-9]+", value):
            return int(value)
        if "number" in kinds and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            return float(value)
    return value


def _read(options: Globals, method: str, path: str) -> Any:
    with connect(options) as api:
        return _call(api, method, path)


def _call(
    api: Api, method: str, path: str, body: Any = None, content_type: str = "application/json"
) -> Any:
    """``api.call``; a 404 or 405 for a path regd does not have names it and the nearest one."""
    from regctl.errors import NotFound, ServerError

    try:
        return api.call(method, path, body, content_type)
    except (NotFound, ServerError) as error:
        if isinstance(error, ServerError) and not error.message.startswith("405"):
            raise
        unknown = unknown_path_message(api, method, path)
        if unknown is None:
            raise
        raise type(error)(unknown, hint="regctl show openapi.json lists every path") from None


def _templates(api: Api, method: str) -> list[str]:
    response = api.send("GET", f"{API}/openapi.json")
    document = response.json() if response.is_success else {}
    return [
        template
        for template, methods in (document.get("paths") or {}).items()
        if isinstance(methods, dict) and method.lower() in methods
    ]


def unknown_path_message(api: Api, method: str, path: str) -> str | None:
    """``no METHOD /api/v1/PATH; did you mean ...?`` when no route of regd's OpenAPI document
    has that method at that path; None when one does (the 404 is about an object)."""
    from difflib import get_close_matches

    tried = API + path
    templates = _templates(api, method)
    if not templates or any(re.fullmatch(_pattern(t, ".+"), tried) for t in templates):
        return None
    words = tried.split("/")
    filled = {}
    for template in templates:
        parts = template.split("/")
        filled[
            "/".join(
                words[i] if part.startswith("{") and i < len(words) else part
                for i, part in enumerate(parts)
            )
        ] = template
    nearest = get_close_matches(tried, list(filled), n=1, cutoff=0.6)
    suggestion = f"; did you mean {method} {nearest[0]}?" if nearest else ""
    return f"regd has no {method} {tried}{suggestion}"


def _pattern(template: str, word: str = "[^/]+") -> str:
    """A regular expression for ``template``'s paths; a ``{placeholder}`` matches ``word``."""
    return re.sub(r"\\\{[^}]*\\\}", word, re.escape(template))


@common_options()
def create(
    options: Globals, words: Words, file: FileOption = None, param: ParamOption = None
) -> None:
    """Create: POST the body to the collection at the path; the name is in the body."""
    _write(options, "POST", words, file, "created", params=param)


@common_options()
def show(options: Globals, words: Words, param: ParamOption = None) -> None:
    """Show: GET the path and print the answer whole (YAML by default).

    --param KEY=VALUE adds a query parameter (repeatable).
    """
    emit(_read(options, "GET", _query_path(words, param)), options.format or Format.yaml)


@common_options()
def list_(options: Globals, words: Words, param: ParamOption = None) -> None:
    """List: GET the collection at the path and print the names of its items.

    A name is the item's 'name' field (else id, address, accessor, digest). 'show'
    prints the whole items.
    """
    result = _read(options, "GET", _query_path(words, param))
    emit(names(result), options.format or Format.yaml, empty="the list is empty")


@common_options()
def replace(
    options: Globals, words: Words, file: FileOption = None, param: ParamOption = None
) -> None:
    """Replace: PUT the body at the path (creates the object when it is missing)."""
    _write(options, "PUT", words, file, "replaced", params=param)


@common_options()
def merge(
    options: Globals, words: Words, file: FileOption = None, param: ParamOption = None
) -> None:
    """Merge: PATCH the path with the body as a JSON merge patch (RFC 7396).

    Scalars and lists are replaced as a whole; null deletes a key.
    """
    _write(options, "PATCH", words, file, "merged into", MERGE_PATCH, param)


@common_options()
def delete(options: Globals, words: Words, param: ParamOption = None) -> None:
    """Delete: DELETE the path."""
    path = _query_path(words, param)
    result = _read(options, "DELETE", path)
    say(f"deleted {API}{path}")
    emit(result, options.format or Format.yaml)


@common_options()
def do(options: Globals, arguments: ActionWords) -> None:
    """Run an action: POST the flags as {KEY: VALUE} to the path's ACTION.

    'regctl do strongbox token create-token --policies registry-push --ttl 4h' posts
    {"policies": ["registry-push"], "ttl": "4h"} to /api/v1/strongbox/token/create-token.
    A VALUE is typed by the action's request schema in regd's OpenAPI document: a
    list splits on commas (and collects a repeated KEY), a number or boolean is
    converted; anything else stays a string.
    """
    words, flags = split_action(arguments)
    path = api_path(words)
    with connect(options) as api:
        body = typed_flags(api, path, flags) if flags else flags
        result = _call(api, "POST", path, body)
    if result is None:
        say(f"done: {words[-1]}")
    emit(result, options.format or Format.yaml)


def register(app: typer.Typer) -> None:
    for command in (create, show, list_, replace, merge, delete):
        app.command(command.__name__.rstrip("_"), rich_help_panel=PANEL)(command)
    app.command(
        "do",
        rich_help_panel=PANEL,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(do)
