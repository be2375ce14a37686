"""Input that used to answer 500: each kind is refused with a clear 4xx and a stable code.

Kinds (issue 15): digits `str.isdigit()` accepts but `int()` does not (`²`, `١`), JSON nested
deeper than the parser's recursion allows, integers beyond what the database stores (int64),
and invoices whose total is zero (paying one is refused: test_invoices.py, amount rules)."""

from __future__ import annotations

from typing import Any

import pytest
from payments_api_testing import ApiClient, new_key, new_user
from test_invoices import INVOICES, invoice_body, issue, number

INT64_MAX = 2**63 - 1


def code_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


@pytest.mark.parametrize("limit", ["²", "١٢", "１２", "1" * 5000, "-1", "1e3", ""])
@pytest.mark.parametrize("path", ["/api/v1/payments/history", INVOICES])
async def test_limit_that_is_not_plain_ascii_digits_is_refused(
    api: ApiClient, path: str, limit: str
) -> None:
    response = await api.http.get(path, params={"limit": limit}, headers=api.headers(new_user()))
    assert response.status_code == 400, response.text
    assert code_of(response) == "validation_error"


@pytest.mark.parametrize("path", ["/api/v1/payments/create", INVOICES, "/api/v1/refunds/initiate"])
async def test_deeply_nested_json_is_refused(api: ApiClient, path: str) -> None:
    body = ("[" * 20_000 + "]" * 20_000).encode()  # inside the 64 KiB body limit
    response = await api.http.post(
        path,
        content=b'{"amount": ' + body + b"}",
        headers={**api.headers(new_user(), key=new_key()), "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert code_of(response) in ("invalid_json", "validation_error")


@pytest.mark.parametrize(
    "overrides",
    [
        {"items": [{"description": "Big", "quantity": 1, "unit_price": INT64_MAX + 1}]},
        {"items": [{"description": "Big", "quantity": INT64_MAX + 1, "unit_price": 1}]},
        {"items": [{"description": "Big", "quantity": 10**6, "unit_price": 10**15}]},
        {"total": 10**30},
        {"subtotal": -(10**30)},
    ],
)
async def test_integers_beyond_what_we_store_are_refused(
    api: ApiClient, overrides: dict[str, Any]
) -> None:
    response = await issue(api, new_user(), invoice_body(number(), **overrides))
    assert response.status_code == 400, response.text
    assert code_of(response) == "validation_error"


async def test_amount_beyond_int64_is_refused(api: ApiClient) -> None:
    body = {"amount": 10**30, "customer": {"phone": "9876543210"}}
    response = await api.http.post(
        "/api/v1/payments/create", json=body, headers=api.headers(new_user(), key=new_key())
    )
    assert response.status_code == 400, response.text
    assert code_of(response) == "validation_error"
