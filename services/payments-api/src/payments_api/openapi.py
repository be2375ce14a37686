"""The OpenAPI 3.1 document and API.md's endpoint and error tables, all generated from the
endpoint table: request and response models, and the errors each endpoint declares (the shared
pieces are `paycore.kit.apidocs`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from paycore.kit import apidocs
from pydantic import BaseModel

from payments_api.endpoints import ENDPOINTS, PLATFORM, Endpoint

IDEMPOTENCY_KEY = "Idempotency-Key"
SUCCESS_ENVELOPE = "Success: `{data, requestId}`."


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    parameters = [
        apidocs.parameter(name, "path", required=True)
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    parameters += [apidocs.parameter(name, "query", required=False) for name in endpoint.query]
    if endpoint.idempotent:
        parameters.append(
            apidocs.parameter(IDEMPOTENCY_KEY, "header", required=True, maxLength=255)
        )
    return parameters


def _success(endpoint: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": SUCCESS_ENVELOPE,
        "content": apidocs.json_content(
            {
                "type": "object",
                "required": ["data", "requestId"],
                "properties": {
                    "data": apidocs.schema_ref(endpoint.response, schemas, "serialization"),
                    "requestId": {"type": ["string", "null"]},
                },
            }
        ),
    }


def _operation(endpoint: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.handler.__name__,
        "summary": endpoint.summary,
        # No scope: a pay-link route, whose credential is the signed token in the path.
        "security": [{"bearer": [endpoint.scope.value]}] if endpoint.scope else [],
        "parameters": _parameters(endpoint),
        "responses": {
            str(endpoint.status): _success(endpoint, schemas),
            **apidocs.refusals(endpoint.refusals()),
        },
    }
    if endpoint.description:
        operation["description"] = endpoint.description
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.body.__name__ != "PayInvoiceIn",
            "content": apidocs.json_content(
                apidocs.schema_ref(endpoint.body, schemas, "validation")
            ),
        }
    return operation


def build_document(version: str = "1.0.0") -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        operation = _operation(endpoint, schemas)
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    paths.update(apidocs.platform_paths())
    return apidocs.document(
        "paycore payments-api",
        paths,
        schemas,
        version=version,
        security_schemes={"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    )


def _request_cell(endpoint: Endpoint) -> str:
    body = endpoint.body
    parts = [f"`{body.__name__}`: {apidocs.field_list(body, request=True)}"] if body else []
    if endpoint.query:
        parts.append("query " + ", ".join(f"`{name}?`" for name in endpoint.query))
    if endpoint.idempotent:
        parts.append(IDEMPOTENCY_KEY)
    return "; ".join(parts)


def endpoint_table() -> str:
    """API.md's table of endpoints: method and path, scope, what it takes (`?`: optional) and
    what it answers; then the shared platform paths."""
    lines = [
        "| method and path | scope | body / query | answer |",
        "|---|---|---|---|",
    ]
    rows = [
        (
            f"`{e.method} {e.path}`",
            e.scope.value if e.scope else "pay link",
            _request_cell(e),
            f"`{e.status}` `{e.response.__name__}`: {e.summary} {e.description}".strip(),
        )
        for e in ENDPOINTS
    ]
    rows += [(f"`GET {path}`", "none", "", s) for path, s in apidocs.PLATFORM_PATHS.items()]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _models_answered() -> list[type[BaseModel]]:
    """Every response model, and the models they hold, each once in order of first use."""
    found: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in found:
            return
        found.append(model)
        for field in model.model_fields.values():
            nested, _ = apidocs.nested_model(field.annotation)
            if nested is not None:
                visit(nested)

    for endpoint in ENDPOINTS:
        visit(endpoint.response)
    return found


def answer_models() -> str:
    """API.md's list of what the answers hold: each model's fields."""
    return "".join(
        f"- `{model.__name__}`: {apidocs.field_list(model, request=False)}\n"
        for model in _models_answered()
    )


def error_table() -> str:
    """API.md's table of error codes: every code an endpoint (or the app) may answer."""
    return apidocs.error_table([*(e for ep in ENDPOINTS for e in ep.refusals()), *PLATFORM])


SECTIONS = {"endpoints": endpoint_table, "answers": answer_models, "errors": error_table}


def with_generated_sections(markdown: str) -> str:
    """The Markdown with each generated section (`SECTIONS`) between its markers."""
    for name, generate in SECTIONS.items():
        markdown = apidocs.with_section(markdown, name, generate())
    return markdown


def main(argv: list[str] | None = None) -> None:
    """`python -m payments_api.openapi API.md`: writes the generated sections into that file."""
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        path.write_text(with_generated_sections(path.read_text()))


openapi_route = apidocs.document_route(build_document())


if __name__ == "__main__":
    main()
