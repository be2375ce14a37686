"""/openapi.json describes exactly the routes the app serves."""

from __future__ import annotations

from payments_api.endpoints import ENDPOINTS
from payments_api_testing import ApiClient
from starlette.routing import Route


def served(api: ApiClient) -> set[tuple[str, str]]:
    pairs = set()
    for route in api.app.routes:
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                pairs.add((method.lower(), route.path))
    return pairs


async def test_document_matches_the_routes(api: ApiClient) -> None:
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert documented == served(api)


async def test_bodies_and_idempotency_headers_are_described(api: ApiClient) -> None:
    document = (await api.http.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for endpoint in ENDPOINTS:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == endpoint.idempotent, endpoint.path
        if endpoint.body is not None:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            name = ref.rsplit("/", 1)[1]
            assert schemas[name].get("additionalProperties") is False  # unknown fields refused
    create = schemas["CreatePaymentIn"]
    assert set(create["required"]) == {"amount", "customer"}
