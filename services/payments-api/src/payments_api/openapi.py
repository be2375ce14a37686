"""The OpenAPI 3.1 document and API.md's error table, both generated from the endpoint table:
request and response models, and the errors each endpoint declares."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from paycore.kit.errors import AppError
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments_api.endpoints import ENDPOINTS, PLATFORM, Endpoint

# Paths outside the table: the shared health and metrics routes, and this document.
PLATFORM_PATHS: dict[str, str] = {
    "/health": "Liveness.",
    "/health/ready": "Readiness: every dependency up.",
    "/health/database": "MongoDB round trip.",
    "/health/queues": "RabbitMQ reachable.",
    "/health/redis": "Redis round trip.",
    "/metrics": "Prometheus metrics.",
    "/openapi.json": "This document.",
}

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "requestId"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "requestId": {"type": ["string", "null"]},
                "details": {"type": "object"},
            },
        }
    },
}


def _parameters(path: str, query: tuple[str, ...], idempotent: bool) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in query
    ]
    if idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    return parameters


SUCCESS_ENVELOPE = "Success: `{data, requestId}`."


def _ref(model: type[BaseModel], schemas: dict[str, Any], mode: JsonSchemaMode) -> dict[str, Any]:
    """Puts the model's schema (and the ones it uses) in the components; returns its $ref."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _success(endpoint: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": SUCCESS_ENVELOPE,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["data", "requestId"],
                    "properties": {
                        "data": _ref(endpoint.response, schemas, "serialization"),
                        "requestId": {"type": ["string", "null"]},
                    },
                }
            }
        },
    }


def _refusals(errors: list[type[AppError]]) -> dict[str, Any]:
    """One response per status, naming each code it may carry and its message."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {
        str(status): {
            "description": "\n".join(f"- `{e.code}`: {message_of(e)}" for e in group),
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [
                            ERROR,
                            {
                                "properties": {
                                    "error": {
                                        "properties": {"code": {"enum": [e.code for e in group]}}
                                    }
                                }
                            },
                        ]
                    }
                }
            },
        }
        for status, group in sorted(by_status.items())
    }


def message_of(error: type[AppError]) -> str:
    """The class's message (its docstring) on one line."""
    return " ".join((error.__doc__ or error.code).split())


def build_document(version: str = "1.0.0") -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        operation: dict[str, Any] = {
            "operationId": endpoint.handler.__name__,
            "summary": endpoint.summary,
            # No scope: a pay-link route, whose credential is the signed token in the path.
            "security": [{"bearer": [endpoint.scope.value]}] if endpoint.scope else [],
            "parameters": _parameters(endpoint.path, endpoint.query, endpoint.idempotent),
            "responses": {
                str(endpoint.status): _success(endpoint, schemas),
                **_refusals(endpoint.refusals()),
            },
        }
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": endpoint.body.__name__ != "PayInvoiceIn",
                "content": {
                    "application/json": {"schema": _ref(endpoint.body, schemas, "validation")}
                },
            }
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    for path, summary in PLATFORM_PATHS.items():
        paths[path] = {
            "get": {
                "operationId": "platform_" + re.sub(r"\W+", "_", path).strip("_"),
                "summary": summary,
                "security": [],
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "paycore payments-api", "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def error_table() -> str:
    """API.md's table of error codes: every code an endpoint (or the app) may answer."""
    errors = {e.code: e for endpoint in ENDPOINTS for e in endpoint.refusals()}
    errors.update({e.code: e for e in PLATFORM})
    rows = sorted(errors.values(), key=lambda error: (error.status, error.code))
    lines = ["| status | code | message |", "|---|---|---|"]
    lines += [f"| {e.status} | `{e.code}` | {message_of(e)} |" for e in rows]
    return "\n".join(lines) + "\n"


ERRORS_BEGIN = "<!-- errors:begin (generated by `make api-docs`; do not edit) -->"
ERRORS_END = "<!-- errors:end -->"


def with_error_table(markdown: str) -> str:
    """The Markdown with the generated error table between its markers."""
    head, rest = markdown.split(ERRORS_BEGIN)
    _, tail = rest.split(ERRORS_END)
    return f"{head}{ERRORS_BEGIN}\n{error_table()}{ERRORS_END}{tail}"


def main(argv: list[str] | None = None) -> None:
    """`python -m payments_api.openapi API.md`: writes the error table into that file."""
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        path.write_text(with_error_table(path.read_text()))


_DOCUMENT = build_document()


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(_DOCUMENT)


if __name__ == "__main__":
    main()
