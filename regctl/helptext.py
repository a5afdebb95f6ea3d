"""Help text people read: an argument shows its metavar (``URL``, ``WORD...``), not a Python
type (``URL <str>``, ``WORD <list[str]>``), and the usage line writes a required argument
bare and an optional one in brackets, as click and man pages do (not ``{URL}``).

Recent typer releases print the types; ``install`` changes those two methods of typer's
argument class, and leaves a typer without them (older releases print no types) alone.
"""

from __future__ import annotations

from typing import Any


def _no_type(_self: Any, ctx: Any) -> None:
    return None


def _usage_name(self: Any) -> str:
    name = str(self.metavar or (self.name or "").upper())
    if self.nargs != 1:
        name += "..."
    return name if self.required else f"[{name}]"


def install() -> None:
    try:
        from typer.core import TyperArgument
    except ImportError:
        return
    if hasattr(TyperArgument, "display_type_rich"):
        TyperArgument.display_type_rich = _no_type  # type: ignore[assignment,method-assign]
    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
