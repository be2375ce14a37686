from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from cashfree_emulator.testing import (
    RunningEmulator,
    WebhookReceiver,
    running_emulator,
    webhook_receiver,
)

# 2, 10, 30 minutes scaled to 60, 300, 900 ms.
RETRY_SCALE = 0.0005


@pytest.fixture(scope="session")
async def receiver_session() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
async def emulator_session(receiver_session: WebhookReceiver) -> AsyncIterator[RunningEmulator]:
    async with running_emulator(
        refund_delay_seconds=0.05,
        webhook_retry_scale=RETRY_SCALE,
        # Cashfree's own delivery timeout (the default, 5 s): with 1 s, a receiver slowed by a
        # busy machine counted as a failed delivery and the retry doubled the tests' webhooks.
        webhook_urls=[receiver_session.url],
    ) as emulator:
        yield emulator


@pytest.fixture
async def receiver(receiver_session: WebhookReceiver) -> WebhookReceiver:
    receiver_session.clear()
    return receiver_session


@pytest.fixture
async def emulator(
    emulator_session: RunningEmulator, receiver: WebhookReceiver
) -> AsyncIterator[RunningEmulator]:
    await emulator_session.control.reset()
    yield emulator_session
    await emulator_session.control.reset()


@pytest.fixture
async def api(emulator: RunningEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=emulator.api_url, headers=emulator.api_headers(), trust_env=False, timeout=5
    ) as client:
        yield client


def _order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_amount": 170.0,
        "order_currency": "INR",
        "customer_details": {"customer_id": "cus_123", "customer_phone": "9876543210"},
    }
    body.update(overrides)
    return body


OrderBody = Callable[..., dict[str, Any]]


@pytest.fixture
def order_body() -> OrderBody:
    """A valid create-order body; keyword arguments replace fields."""
    return _order_body


@pytest.fixture
def new_order(api: httpx.AsyncClient) -> Any:
    async def create(**overrides: Any) -> dict[str, Any]:
        response = await api.post("/orders", json=_order_body(**overrides))
        assert response.status_code == 200, response.text
        order: dict[str, Any] = response.json()
        return order

    return create


@pytest.fixture
def paid_order(new_order: Any, emulator: RunningEmulator) -> Any:
    async def create(**overrides: Any) -> dict[str, Any]:
        order: dict[str, Any] = await new_order(**overrides)
        await emulator.control.pay(order["payment_session_id"])
        return order

    return create
