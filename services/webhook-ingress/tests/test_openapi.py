"""/openapi.json describes exactly the routes the ingress serves: the signed webhook with its
headers, the answer, and every refusal a delivery can really get."""

from __future__ import annotations

from typing import Any

from ingress_support import PATH, Ingress, payment_body, signed_headers
from paycore.kit.errors import AppError, DependencyUnavailable
from starlette.routing import Route
from webhook_ingress.routes import HEADERS, REFUSALS, REJECTIONS


async def document_of(ingress: Ingress) -> dict[str, Any]:
    response = await ingress.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def documented_codes(operation: dict[str, Any]) -> set[tuple[int, str]]:
    return {
        (int(status), code)
        for status, answer in operation["responses"].items()
        if status != "200"
        for code in answer["content"]["application/json"]["schema"]["allOf"][1]["properties"][
            "error"
        ]["properties"]["code"]["enum"]
    }


async def test_document_matches_the_routes(ingress: Ingress) -> None:
    document = await document_of(ingress)
    assert document["openapi"].startswith("3.")
    served = set()
    for route in ingress.app.routes:
        assert isinstance(route, Route)
        served |= {(m.lower(), route.path) for m in route.methods or () if m != "HEAD"}
    documented = {(m, path) for path, operations in document["paths"].items() for m in operations}
    assert documented == served
    assert ("post", PATH) in documented
    assert ("post", PATH + "/") in documented


async def test_every_webhook_route_takes_the_signed_webhook_and_declares_its_answers(
    ingress: Ingress,
) -> None:
    document = await document_of(ingress)
    schemas = document["components"]["schemas"]
    webhook_routes = [
        operations["post"] for operations in document["paths"].values() if "post" in operations
    ]
    assert len(webhook_routes) == 6
    for operation in webhook_routes:
        headers = {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {h.name: h.required for h in HEADERS}
        assert headers["x-webhook-signature"]
        assert headers["x-webhook-timestamp"]
        assert headers["x-webhook-version"] is False
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schemas[body["$ref"].rsplit("/", 1)[1]]["properties"]["type"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        accepted = schemas[answer["$ref"].rsplit("/", 1)[1]]["properties"]
        assert set(accepted) == {"status", "logId"}
        assert set(accepted["status"]["enum"]) == {"accepted", "duplicate"}
        assert documented_codes(operation) == {(e.status, e.code) for e in REFUSALS}
    unavailable = DependencyUnavailable.code
    assert {e.code for e in REJECTIONS} | {unavailable, AppError.code} == {e.code for e in REFUSALS}


async def test_each_refusal_the_ingress_gives_is_documented(ingress: Ingress) -> None:
    document = await document_of(ingress)
    documented = documented_codes(document["paths"][PATH]["post"])
    body = payment_body()
    wrong_key = signed_headers(body, secret=b"whsec_other")
    not_json = signed_headers(b"not json")
    as_text = signed_headers(body) | {"content-type": "text/plain"}
    attempts = [(body, {}), (body, wrong_key), (b"not json", not_json), (body, as_text)]
    answered = set()
    for content, headers in attempts:
        response = await ingress.post(content, headers)
        answered.add((response.status_code, response.json()["error"]["code"]))
    assert answered == {
        (400, "webhook_headers_missing"),
        (401, "webhook_signature_invalid"),
        (400, "webhook_malformed"),
        (415, "unsupported_media_type"),
    }
    assert answered <= documented
