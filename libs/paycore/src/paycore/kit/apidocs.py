"""What every service's API description is built from: the OpenAPI 3.1 pieces (the error
envelope, model schemas, one response per refusal status, the shared health and metrics paths)
and the Markdown tables generated into a service's docs, so a document and its routes' own
declarations cannot drift apart."""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paycore.kit.errors import AppError

# The paths `paycore.kit.http.create_app` serves beside a service's own routes, and the
# document itself.
PLATFORM_PATHS: dict[str, str] = {
    "/health": "Liveness.",
    "/health/ready": "Readiness: the dependencies the service needs are up.",
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


def message_of(error: type[AppError]) -> str:
    """The class's message (its docstring) on one line."""
    return " ".join((error.__doc__ or error.code).split())


def by_status(errors: Iterable[type[AppError]]) -> list[type[AppError]]:
    """The errors once per code, by status then code."""
    unique = {error.code: error for error in errors}
    return sorted(unique.values(), key=lambda error: (error.status, error.code))


def schema_ref(
    model: type[BaseModel], schemas: dict[str, Any], mode: JsonSchemaMode
) -> dict[str, Any]:
    """Puts the model's schema (and the ones it uses) in `schemas`; returns its $ref."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def refusals(errors: Iterable[type[AppError]]) -> dict[str, Any]:
    """One response per status, naming each code it may carry and its message."""
    grouped: dict[int, list[type[AppError]]] = {}
    for error in by_status(errors):
        grouped.setdefault(error.status, []).append(error)
    return {
        str(status): {
            "description": "\n".join(f"- `{e.code}`: {message_of(e)}" for e in group),
            "content": json_content(
                {
                    "allOf": [
                        ERROR,
                        {
                            "properties": {
                                "error": {"properties": {"code": {"enum": [e.code for e in group]}}}
                            }
                        },
                    ]
                }
            ),
        }
        for status, group in grouped.items()
    }


def parameter(
    name: str, where: str, *, required: bool, description: str | None = None, **schema: Any
) -> dict[str, Any]:
    """A path, query or header parameter; `schema` defaults to a plain string."""
    found: dict[str, Any] = {
        "name": name,
        "in": where,
        "required": required,
        "schema": {"type": "string", **schema},
    }
    if description:
        found["description"] = description
    return found


_UP_OR_DOWN: dict[str, Any] = {"enum": ["up", "down"]}

# What each platform path answers (`paycore.kit.http.health_routes`): its body's schema, and
# whether it answers 503 with the same body when what it checks is down.
_HEALTH: dict[str, Any] = {
    "type": "object",
    "required": ["status", "service"],
    "properties": {"status": {"const": "ok"}, "service": {"type": "string"}},
}
_READINESS: dict[str, Any] = {
    "type": "object",
    "required": ["status", "service", "requires", "dependencies"],
    "properties": {
        "status": {"enum": ["ok", "degraded"]},
        "service": {"type": "string"},
        "requires": {"type": "array", "items": {"type": "string"}},
        "dependencies": {"type": "object", "additionalProperties": _UP_OR_DOWN},
    },
}
_DEPENDENCY: dict[str, Any] = {
    "type": "object",
    "required": ["dependency", "status", "latencyMs"],
    "properties": {
        "dependency": {"type": "string"},
        "status": _UP_OR_DOWN,
        "latencyMs": {"type": "number"},
        "error": {"type": "string", "description": "The failure's type name, when down."},
    },
}


def _platform_answers(path: str) -> dict[str, Any]:
    if path == "/metrics":
        return {
            "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
        }
    if path == "/openapi.json":
        return {"200": {"description": "OK", "content": json_content({"type": "object"})}}
    if path == "/health":
        return {"200": {"description": "OK", "content": json_content(_HEALTH)}}
    body = json_content(_READINESS if path == "/health/ready" else _DEPENDENCY)
    return {
        "200": {"description": "Up.", "content": body},
        "503": {"description": "Down (the same body says what).", "content": body},
    }


def platform_paths() -> dict[str, dict[str, Any]]:
    """The GET operations of the platform paths (no credentials), with what each answers: a
    readiness or dependency check answers 503 when down."""
    return {
        path: {
            "get": {
                "operationId": "platform_" + re.sub(r"\W+", "_", path).strip("_"),
                "summary": summary,
                "security": [],
                "responses": _platform_answers(path),
            }
        }
        for path, summary in PLATFORM_PATHS.items()
    }


def document(
    title: str,
    paths: dict[str, dict[str, Any]],
    schemas: dict[str, Any],
    *,
    version: str = "1.0.0",
    security_schemes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document: `schemas` gets the error envelope."""
    components: dict[str, Any] = {"schemas": {"Error": ERROR_SCHEMA, **schemas}}
    if security_schemes:
        components["securitySchemes"] = dict(security_schemes)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": components,
    }


def document_route(built: dict[str, Any]) -> Route:
    """`GET /openapi.json` answering the document."""

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(built)

    return Route("/openapi.json", openapi_json, methods=["GET"])


# Markdown generated into a service's docs.


def error_table(errors: Iterable[type[AppError]]) -> str:
    """A Markdown table of error codes: status, code and message, by status then code."""
    lines = ["| status | code | message |", "|---|---|---|"]
    lines += [f"| {e.status} | `{e.code}` | {message_of(e)} |" for e in by_status(errors)]
    return "\n".join(lines) + "\n"


def markers(name: str) -> tuple[str, str]:
    """The comments a generated section of a Markdown file stands between."""
    return (
        f"<!-- {name}:begin (generated by `make api-docs`; do not edit) -->",
        f"<!-- {name}:end -->",
    )


def with_section(markdown: str, name: str, content: str) -> str:
    """The Markdown with `content` between the section's markers."""
    begin, end = markers(name)
    head, rest = markdown.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{content}{end}{tail}"


def nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (alone, optional or in a list), and whether in a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple, set, frozenset) and args:
        return nested_model(args[0])[0], True
    if origin in (Union, types.UnionType):
        for arg in args:
            model, many = nested_model(arg)
            if model is not None:
                return model, many
    return None, False


def field_list(model: type[BaseModel], *, request: bool) -> str:
    """The model's fields for a Markdown cell, `name[]` for a list. A request's: `name?` when
    optional, a nested model's fields in braces; an answer's: a nested model's name."""
    shown = []
    for name, field in model.model_fields.items():
        nested, many = nested_model(field.annotation)
        optional = "?" if request and not field.is_required() else ""
        label = f"`{field.alias or name}{'[]' if many else ''}{optional}`"
        if nested is not None and request:
            label += f" {{{field_list(nested, request=True)}}}"
        elif nested is not None:
            label += f" (`{nested.__name__}`)"
        shown.append(label)
    return ", ".join(shown)
