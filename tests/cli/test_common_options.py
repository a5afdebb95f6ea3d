"""``regctl.options.common_options``, in-process: what typer sees and what the command gets."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from regctl.options import GLOBAL, Format, Globals, SecretFormat, common_options


@pytest.fixture(autouse=True)
def fresh_globals() -> Iterator[None]:
    saved = (GLOBAL.server, GLOBAL.format, GLOBAL.quiet, GLOBAL.debug)
    GLOBAL.server, GLOBAL.format, GLOBAL.quiet, GLOBAL.debug = None, None, False, False
    yield
    GLOBAL.server, GLOBAL.format, GLOBAL.quiet, GLOBAL.debug = saved


Name = Annotated[str, typer.Argument(metavar="NAME")]
OwnFormat = Annotated[SecretFormat | None, typer.Option("-o", "--format")]


def test_the_common_options_come_after_the_own_ones_in_order() -> None:
    @common_options()
    def show(options: Globals, name: Name, all: bool = False) -> None:
        """Show NAME."""

    assert list(inspect.signature(show).parameters) == [
        "name",
        "all",
        "server",
        "format",
        "quiet",
        "debug",
    ]
    assert getattr(show, "__name__", None) == "show"
    assert inspect.getdoc(show) == "Show NAME."


def test_server_and_format_can_be_left_out() -> None:
    @common_options(server=False, format=False)
    def bare(options: Globals) -> None:
        pass

    assert list(inspect.signature(bare).parameters) == ["quiet", "debug"]


def test_an_own_format_takes_the_place_of_o() -> None:
    @common_options()
    def create(options: Globals, format: OwnFormat = None, name: str = "") -> None:
        pass

    assert list(inspect.signature(create).parameters) == [
        "name",
        "server",
        "format",
        "quiet",
        "debug",
    ]


def test_the_command_gets_the_options_through_take() -> None:
    seen: list[Any] = []
    app = typer.Typer()

    @app.command("show")
    @common_options()
    def show(options: Globals, name: Name) -> None:
        seen.append((name, options.server, options.format, options.quiet, options.debug))

    @app.command("other")
    def other() -> None:  # two commands: typer keeps the verb
        pass

    result = CliRunner().invoke(app, ["show", "x", "--server", "http://h:1", "-o", "json", "-q"])
    assert result.exit_code == 0, result.output
    assert seen == [("x", "http://h:1", Format.json, True, False)]


def test_an_own_format_is_given_to_the_command_not_to_take() -> None:
    seen: list[Any] = []
    app = typer.Typer()

    @app.command("create")
    @common_options()
    def create(options: Globals, format: OwnFormat = None) -> None:
        seen.append((format, options.format))

    @app.command("other")
    def other() -> None:
        pass

    result = CliRunner().invoke(app, ["create", "-o", "k8s-secret"])
    assert result.exit_code == 0, result.output
    assert seen == [(SecretFormat.k8s_secret, None)]
