"""The OpenAPI 3.1 document, generated from the endpoint table and the request models."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from payments_api.endpoints import ENDPOINTS

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


def build_document(version: str = "1.0.0") -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        responses: dict[str, Any] = {
            str(endpoint.status): {"description": "Success: `{data, requestId}`."},
            "400": {
                "description": "Invalid request.",
                "content": {"application/json": {"schema": ERROR}},
            },
            "401": {
                "description": "No valid bearer token.",
                "content": {"application/json": {"schema": ERROR}},
            },
            "403": {
                "description": "Missing scope (or fraud block).",
                "content": {"application/json": {"schema": ERROR}},
            },
            "429": {
                "description": "Rate limited; see Retry-After.",
                "content": {"application/json": {"schema": ERROR}},
            },
            # 404, 409, 413, 415, 422, 502, 503 (with Retry-After): every refusal has this body.
            "default": {
                "description": "Any other error, with its stable code.",
                "content": {"application/json": {"schema": ERROR}},
            },
        }
        operation: dict[str, Any] = {
            "operationId": endpoint.handler.__name__,
            "summary": endpoint.summary,
            # No scope: a pay-link route, whose credential is the signed token in the path.
            "security": [{"bearer": [endpoint.scope.value]}] if endpoint.scope else [],
            "parameters": _parameters(endpoint.path, endpoint.query, endpoint.idempotent),
            "responses": responses,
        }
        if endpoint.body is not None:
            schema = endpoint.body.model_json_schema(
                ref_template="#/components/schemas/{model}", mode="validation"
            )
            schemas.update(schema.pop("$defs", {}))
            schemas[endpoint.body.__name__] = schema
            operation["requestBody"] = {
                "required": endpoint.body.__name__ != "PayInvoiceIn",
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{endpoint.body.__name__}"}
                    }
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


_DOCUMENT = build_document()


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(_DOCUMENT)
