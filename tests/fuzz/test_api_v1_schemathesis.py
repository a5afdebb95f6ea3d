"""schemathesis over every /api/v1 operation of regd's own OpenAPI document.

Each generated request (valid and invalid: positive and negative modes) goes to a real
regd twice, as admin and anonymously. The checks: no 5xx, every status and body as the
document says (status, content type, response schema), invalid data refused. The
document is built from the same route table that routes requests (``regd.http.api``).

Bounded: ``FUZZ_EXAMPLES`` examples per operation (``REGD_FUZZ_EXAMPLES`` overrides it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from regd.http import api
from regd.http.api import openapi
from tests.support.identities import create_token
from tests.support.server import RegdProcess, start_regd

pytestmark = pytest.mark.fuzz

FUZZ_EXAMPLES = int(os.environ.get("REGD_FUZZ_EXAMPLES", "20"))

schema = schemathesis.openapi.from_dict(openapi.document(api.ROUTES))
#: Every check but "schema-valid data is accepted": path parameters are strings in the
#: document (their grammars — repository names, tags, principals — are in prose), so a
#: generated string that is no valid name is rightly a 400.
EXCLUDED = [positive_data_acceptance]


@pytest.fixture(scope="module")
def fuzz_regd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegdProcess, str]]:
    """A regd of its own (the fuzz creates and deletes things), and an admin token."""
    server = start_regd(tmp_path_factory.mktemp("fuzz-api-v1"))
    try:
        with server.client() as admin:
            # A token, not Basic: a generated PATCH of admin's password must not lock out
            # the rest of the run, and no argon2 check per request.
            _accessor, token = create_token(admin, "2h", name="fuzz")
        yield server, token
    finally:
        server.stop()
    assert "internal error" not in server.log, server.log


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_v1_conforms_to_its_document(
    case: schemathesis.Case, fuzz_regd: tuple[RegdProcess, str]
) -> None:
    server, token = fuzz_regd
    case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=EXCLUDED,
    )
    anonymous = case.call(base_url=server.url)
    documented = case.method.lower() in schema.raw_schema["paths"][case.path]
    expected = {200} if case.path == openapi.PATH else {401}
    if not documented:  # authentication comes first, on a method the path does not have too
        expected = {401, 405}
    assert anonymous.status_code in expected, (
        f"{case.method} {case.formatted_path}: {anonymous.status_code} {anonymous.text[:300]}"
    )


def test_the_document_lists_what_the_middlewares_answer() -> None:
    """401, 500, 503 and 507 on every operation, 400 and 413 wherever a body is read."""
    document = httpx.Response(200, json=openapi.document(api.ROUTES)).json()
    for path, operations in document["paths"].items():
        if path == openapi.PATH:
            continue
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"401", "500", "503", "507"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413"} <= statuses, (method, path)
