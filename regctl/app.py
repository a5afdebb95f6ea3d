"""The Typer root of regctl. Commands import their heavy dependencies lazily."""

from __future__ import annotations

import typer

from regctl import __version__

app = typer.Typer(
    name="regctl",
    help="Drive a regd registry: repositories, tags, tokens, users, secrets, remote registries.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"regctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """regctl: the command line for regd."""


@app.command()
def version() -> None:
    """Print regctl's version."""
    typer.echo(f"regctl {__version__}")


def main() -> None:
    app()
