"""Management refusals have one registry: domain code names an ErrorKind, never a status.

The HTTP layer alone (``regd.http.errors.STATUS``) says which HTTP status each kind answers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import regd
from regd.errors import ErrorKind, RequestError
from regd.http.errors import STATUS, refusal

ROOT = Path(regd.__file__).parent
DOMAIN = ("auth", "strongbox", "remotes", "registry", "notify")
#: Carries what an upstream registry answered (the remotes' HTTP client), not our answer.
_UPSTREAM_ANSWER = "UpstreamError"


def _raised_statuses(path: Path) -> list[int]:
    """The line of every ``raise X(..., 404, ...)``: an HTTP status in a raise site."""
    found: list[int] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
            continue
        if isinstance(node.exc.func, ast.Name) and node.exc.func.id == _UPSTREAM_ANSWER:
            continue
        arguments = [*node.exc.args, *(keyword.value for keyword in node.exc.keywords)]
        for argument in arguments:
            if (
                isinstance(argument, ast.Constant)
                and type(argument.value) is int
                and 100 <= argument.value <= 599
            ):
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_code_raises_no_http_status(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in _raised_statuses(path)
    ]
    assert offenders == []


def test_the_scan_finds_a_status_where_there_is_one(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    raise IdentityError(409, 'exists')\n")
    assert _raised_statuses(source) == [2]


def test_request_error_takes_a_kind_not_a_status() -> None:
    error = RequestError(ErrorKind.CONFLICT, "exists")
    assert not hasattr(error, "status")
    assert error.kind is ErrorKind.CONFLICT


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_has_one_status_and_renders_as_problem_json(kind: ErrorKind) -> None:
    response = refusal(RequestError(kind, "why"))
    assert response.status == STATUS[kind]
    assert 400 <= response.status < 600
    assert response.content_type == "application/problem+json"
