"""The ingress's OpenAPI 3.1 document, generated from its routes' declarations
(`webhook_ingress.routes`: the paths, the signed webhook and its headers, the answer and every
refusal), with the pieces every service's document shares (`paycore.kit.apidocs`)."""

from __future__ import annotations

import re
from typing import Any

from paycore.kit import apidocs

from webhook_ingress.routes import HEADERS, PATHS, REFUSALS, Accepted, SignedWebhook, routes

SUMMARY = "Receive a Cashfree webhook: checked, stored, then answered 200."
DESCRIPTION = (
    "The signature is the credential (no bearer token). A webhook stored now answers "
    "`accepted`, one stored before `duplicate`; both are 200, so Cashfree stops delivering. "
    "A 503 asks Cashfree to deliver it again later."
)


def _summary(path: str) -> str:
    canonical = PATHS[0]
    if path.rstrip("/") == canonical:
        return SUMMARY
    return f"As `POST {canonical}`: an alias (a trailing slash is answered the same)."


def _operation(path: str, schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "operationId": "receive" + re.sub(r"\W+", "_", path).rstrip("_"),
        "summary": _summary(path),
        "description": DESCRIPTION,
        "security": [],
        "parameters": [
            apidocs.parameter(h.name, "header", required=h.required, description=h.description)
            for h in HEADERS
        ],
        "requestBody": {
            "required": True,
            "content": apidocs.json_content(
                apidocs.schema_ref(SignedWebhook, schemas, "validation")
            ),
        },
        "responses": {
            "200": {
                "description": "Stored (`accepted`), or stored before (`duplicate`).",
                "content": apidocs.json_content(
                    apidocs.schema_ref(Accepted, schemas, "serialization")
                ),
            },
            **apidocs.refusals(REFUSALS),
        },
    }


def build_document(version: str = "1.0.0") -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                paths.setdefault(route.path, {})[method.lower()] = _operation(route.path, schemas)
    paths.update(apidocs.platform_paths())
    return apidocs.document("paycore webhook-ingress", paths, schemas, version=version)


openapi_route = apidocs.document_route(build_document())
