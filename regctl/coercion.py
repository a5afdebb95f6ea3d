"""Parameter coercion without pydantic, for regctl's simple parameter types.

Recent typer coerces every parameter value through a pydantic ``TypeAdapter``: the first
command-line value imports pydantic and builds adapters, about 100 ms of every command's
start, for parameters that are only strings, flags, enums and lists of strings. ``install``
makes typer coerce those types directly; any other annotation goes to typer's own coercion,
and a typer without that machinery (older releases coerce with click) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, get_args, get_origin


def _plain_type(annotation: Any) -> Any | None:
    """``str``, ``bool``, an Enum, or ``list[str]``: what this module coerces; else None."""
    if annotation in (str, bool):
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return annotation
    return None


def _coerce(annotation: Any, value: Any) -> Any:
    from typer._click.exceptions import BadParameter

    if annotation is str:
        return value if isinstance(value, str) else str(value)
    if annotation is bool:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on", "y")
        return bool(value)
    if get_origin(annotation) is list:
        return [item if isinstance(item, str) else str(item) for item in value]
    if isinstance(value, annotation):
        return value
    try:
        return annotation(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in annotation)
        raise BadParameter(f"{value!r} is not one of {choices}.") from None


def install() -> None:
    """Route typer's coercion of regctl's simple parameter types around pydantic."""
    try:
        from typer._coercion import RuntimeParam
        from typer.core import _TyperParameter
    except ImportError:  # an older typer: click coerces, no pydantic involved
        return
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if original is None or getattr(original, "regctl_plain", False):
        return

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            return _coerce(self.annotation, value)

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            descriptor = self.type_descriptor
            if descriptor.file_annotation is None and _plain_type(descriptor.annotation):
                self._runtime_param = PlainRuntimeParam(
                    parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
                )
            else:
                self._runtime_param = original(self)
        return self._runtime_param

    get_runtime_param.regctl_plain = True  # type: ignore[attr-defined]
    setattr(_TyperParameter, "get_runtime_param", get_runtime_param)  # noqa: B010
