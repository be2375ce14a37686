"""/openapi.json describes exactly the routes the app serves, with each one's response schema
and declared errors; API.md's endpoint table, answer models and error table are generated from
the same declarations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from paycore.kit.apidocs import PLATFORM_PATHS, markers
from paycore.payments.models import Transaction
from payments_api.endpoints import ENDPOINTS
from payments_api.openapi import with_generated_sections
from payments_api.responses import AttemptOut
from payments_api_testing import ApiClient
from starlette.routing import Route

API_MD = Path(__file__).resolve().parents[1] / "API.md"


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


async def test_every_endpoint_has_its_response_schema_and_declared_errors(api: ApiClient) -> None:
    document = (await api.http.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for endpoint in ENDPOINTS:
        responses = document["paths"][endpoint.path][endpoint.method.lower()]["responses"]
        success = responses[str(endpoint.status)]["content"]["application/json"]["schema"]
        ref = success["properties"]["data"]["$ref"]
        assert ref == f"#/components/schemas/{endpoint.response.__name__}", endpoint.path
        assert schemas[endpoint.response.__name__]["properties"], endpoint.path
        documented = {
            (int(status), code)
            for status, answer in responses.items()
            if status != str(endpoint.status)
            for code in answer["content"]["application/json"]["schema"]["allOf"][1]["properties"][
                "error"
            ]["properties"]["code"]["enum"]
        }
        assert documented == {(e.status, e.code) for e in endpoint.refusals()}, endpoint.path
        assert ("invalid_token" in {code for _, code in documented}) == (endpoint.scope is not None)
    refund = ENDPOINTS[[e.path for e in ENDPOINTS].index("/api/v1/refunds/initiate")]
    assert {"refund_exceeds_refundable", "payment_not_refundable"} <= {
        e.code for e in refund.refusals()
    }


def generated(text: str, name: str) -> str:
    begin, end = markers(name)
    return text.split(begin)[1].split(end)[0].strip()


def test_api_md_tables_are_the_declared_ones() -> None:
    """Run `make api-docs` when this fails: API.md's endpoint table, answer models and error
    table are generated from the declarations."""
    text = API_MD.read_text()
    assert with_generated_sections(text) == text
    for code in ("refund_exceeds_refundable", "pay_link_expired", "method_not_allowed"):
        assert f"`{code}`" in generated(text, "errors")


def test_api_md_lists_every_endpoint_with_its_scope_and_idempotency() -> None:
    rows = [line.split(" | ") for line in generated(API_MD.read_text(), "endpoints").splitlines()]
    declared = {
        (f"| `{e.method} {e.path}`", e.scope.value if e.scope else "pay link", e.idempotent)
        for e in ENDPOINTS
    }
    listed = {(row[0], row[1], row[2].endswith("Idempotency-Key")) for row in rows[2:]}
    assert declared <= listed
    assert len(listed - declared) == len([r for r in rows[2:] if r[1] == "none"])  # platform
    create = next(row for row in rows if row[0] == "| `POST /api/v1/payments/create`")
    assert create[2].startswith("`CreatePaymentIn`: `amount`, `currency?`, `customer` {`phone`")
    assert create[3].startswith("`201` `PaymentOut`")


def test_responses_keep_the_wire_format() -> None:
    """ISO instants as Python writes them and enum values, as the dict builders did."""
    at = datetime(2026, 12, 1, 3, 4, 5, 678000, tzinfo=UTC)
    attempt = Transaction(
        cf_payment_id="cf_1",
        payment_id="pay_1",
        order_id="ord_1",
        status="FAILED",
        amount=100,
        currency="INR",
        created_at=at,
    )
    assert AttemptOut.model_validate(attempt).model_dump(mode="json") == {
        "cf_payment_id": "cf_1",
        "status": "FAILED",
        "amount": 100,
        "currency": "INR",
        "payment_method": None,
        "failure_reason": None,
        "bank_reference": None,
        "created_at": "2026-12-01T03:04:05.678000+00:00",
    }


async def test_every_platform_path_declares_the_answer_it_gives(api: ApiClient) -> None:
    document = (await api.http.get("/openapi.json")).json()
    for path in PLATFORM_PATHS:
        answer = await api.http.get(path)
        responses = document["paths"][path]["get"]["responses"]
        assert str(answer.status_code) in responses, path
        content = responses[str(answer.status_code)]["content"]
        media_type = answer.headers["content-type"].split(";")[0]
        schema = content[media_type]["schema"]
        if schema.get("properties"):  # the body holds the required fields and no others
            body = answer.json()
            assert set(schema["required"]) <= set(body) <= set(schema["properties"]), path
    for path in ("/health/ready", "/health/database"):
        assert "503" in document["paths"][path]["get"]["responses"]
