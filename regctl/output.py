"""Printing results on stdout: table, json, yaml or name. rich and yaml load on first use."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from regctl.runtime import Format, say

#: Keys that name an item, in order of preference (``-o name``, ``list``). A remote
#: registry's key is its address; its ``name`` is an alias.
NAME_KEYS = ("address", "name", "id", "accessor", "digest")


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    #: ``sha256:`` + 12 hex digits in tables, as docker and podman show image ids.
    short: bool = False
    #: A boolean shown as ``*`` (true) or nothing, as kubectl marks the current context.
    mark: bool = False
    #: How to show the value in a table, when the default (lists joined by commas) won't do.
    render: Callable[[Any], str] | None = None


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def item_name(item: Any) -> str:
    if isinstance(item, dict):
        for key in NAME_KEYS:
            if item.get(key) not in (None, ""):
                return str(item[key])
        return json.dumps(item, sort_keys=True)
    return str(item)


def names(data: Any) -> list[str]:
    if data is None:
        return []
    if isinstance(data, list):
        return [item_name(item) for item in data]
    return [item_name(data)]


def emit(
    data: Any, fmt: Format, columns: Sequence[Column] | None = None, empty: str = "nothing found"
) -> None:
    """Print ``data`` (decoded JSON) in ``fmt``; ``empty`` is said on stderr for an empty list."""
    if data is None:
        return
    if fmt is Format.json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt is Format.yaml:
        sys.stdout.write(to_yaml(data))
    elif fmt is Format.name:
        for name in names(data):
            sys.stdout.write(name + "\n")
    elif isinstance(data, list):
        if data:
            _table(data, columns)
        else:
            say(empty)
    else:
        _vertical(data)


def to_yaml(data: Any) -> str:
    if isinstance(data, str):
        return data if data.endswith("\n") else data + "\n"
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text: str = yaml.dump(
        data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return text


def _cell(value: Any, short: bool = False, mark: bool = False) -> str:
    if value is None:
        return ""
    if mark:
        return "*" if value else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    text = str(value)
    if short and ":" in text:
        algorithm, _, digest = text.partition(":")
        return f"{algorithm}:{digest[:12]}"
    return text


def _console() -> Any:
    """On a terminal, its width; in a pipe, wide enough that no cell wraps (``COLUMNS``
    still limits it)."""
    import os

    from rich.console import Console

    width = height = None
    if not stdout_is_terminal():
        # both, or rich falls back to 80 columns on TERM=dumb
        width, height = int(os.environ.get("COLUMNS") or 0) or 4096, 25
    return Console(
        soft_wrap=False, highlight=False, emoji=False, markup=False, width=width, height=height
    )


def _table(rows: list[Any], columns: Sequence[Column] | None) -> None:
    from rich import box
    from rich.table import Table

    if columns is None:
        columns = _infer_columns(rows)
    table = Table(box=box.SIMPLE, header_style="bold", pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column.header, no_wrap=column.short)
    for row in rows:
        record = row if isinstance(row, dict) else {"name": row}
        table.add_row(
            *(
                column.render(record.get(column.key))
                if column.render is not None
                else _cell(record.get(column.key), column.short, column.mark)
                for column in columns
            )
        )
    _console().print(table)


def _infer_columns(rows: list[Any]) -> list[Column]:
    keys: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else ["name"]:
            if key not in keys:
                keys.append(key)
    return [Column(key.upper().replace("-", " "), key) for key in keys]


def _vertical(data: Any) -> None:
    from rich import box
    from rich.table import Table

    if not isinstance(data, dict):
        sys.stdout.write(to_yaml(data))
        return
    table = Table(box=box.SIMPLE, show_header=False, pad_edge=False, show_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in data.items():
        table.add_row(key, _cell(value))
    _console().print(table)
