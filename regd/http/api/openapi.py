"""Builds the OpenAPI 3.1 document from the route table, so the two never drift."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from regd import __version__
from regd.http.api.routes import EVERY_ROUTE, WITH_BODY, WITH_PATH_PARAMETERS, ApiRoute

PATH = "/api/v1/openapi.json"
_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["title", "status"],
}


def openapi_path(aiohttp_path: str) -> str:
    """``/repositories/{name:.+}`` -> ``/repositories/{name}``."""
    return _PLACEHOLDER.sub(r"{\1}", aiohttp_path)


def _operation(route: ApiRoute) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PLACEHOLDER.findall(route.path)
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in route.query
    ]
    responses: dict[str, Any] = {}
    answers = {
        **EVERY_ROUTE,
        **(WITH_PATH_PARAMETERS if _PLACEHOLDER.search(route.path) else {}),
        **(WITH_BODY if route.request_schema else {}),
        **route.responses,
    }
    for status, description in sorted(answers.items()):
        response: dict[str, Any] = {"description": description}
        if 200 <= status < 300 and status != 204 and route.response_schema is not None:
            response["content"] = {"application/json": {"schema": route.response_schema}}
        elif status >= 400:
            response["content"] = {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
        responses[str(status)] = response
    operation: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": route.handler.__name__,
        "parameters": parameters,
        "responses": responses,
    }
    if route.request_schema is not None:
        operation["requestBody"] = {
            # An empty body reads as {}: required only where the schema requires a field.
            "required": bool(route.request_schema.get("required")),
            "content": {"application/json": {"schema": route.request_schema}},
        }
    return operation


def document(routes: Iterable[ApiRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for route in routes:
        operation = _operation(route)
        if operation["operationId"] in seen:  # one handler on two methods
            operation["operationId"] += "_" + route.method.lower()
        seen.add(operation["operationId"])
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = operation
    paths[PATH] = {
        "get": {
            "summary": "This document",
            "tags": ["meta"],
            "operationId": "openapi",
            "parameters": [],
            "responses": {"200": {"description": "the OpenAPI document"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "regd management API",
            "version": __version__,
            "description": (
                "Repositories, tags and manifests of a regd registry. Repository names may "
                "be nested (`team/app/web`); a repository's sub-resources come after a "
                "`/-/` separator, which a name can never contain as a component."
            ),
        },
        "paths": paths,
        "components": {"schemas": {"Problem": PROBLEM_SCHEMA}},
    }
