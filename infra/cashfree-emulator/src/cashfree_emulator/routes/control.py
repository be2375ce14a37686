"""The `/_emulator/` control API (real Cashfree has none of this): state, faults, triggers."""

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cashfree_emulator.disputes import move_dispute, open_dispute
from cashfree_emulator.emulator import Emulator
from cashfree_emulator.entities import payment_entity, refund_entity, settlement_entity
from cashfree_emulator.errors import CashfreeError, not_found
from cashfree_emulator.orders import current_order
from cashfree_emulator.payments import attempt_payment
from cashfree_emulator.pipeline import emulator_of
from cashfree_emulator.records import Order
from cashfree_emulator.refunds import (
    auto_refund,
    dashboard_refund,
    resolve_refund,
    reverse_refund,
)
from cashfree_emulator.schemas import (
    AutoRefundRequest,
    DashboardRefundRequest,
    DisputeRequest,
    EmulatorConfig,
    FaultSpec,
    MerchantConfig,
    MoveDisputeRequest,
    PayRequest,
    ResolveRefundRequest,
    SettleOrdersRequest,
    SettleRequest,
)
from cashfree_emulator.settlements import settle_order, settle_orders
from cashfree_emulator.wire import InvalidJson, JsonValue, dumps, loads

M = TypeVar("M", bound=BaseModel)
ControlHandler = Callable[[Request, Emulator], Awaitable[JsonValue]]


def _json(value: JsonValue, status: int = 200) -> Response:
    return Response(dumps(value), status, media_type="application/json")


def _control(handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return _json(await handler(request, emulator_of(request)))
        except CashfreeError as error:
            return _json(error.body(), error.status)
        except ValidationError as error:
            return _json({"detail": error.errors(include_url=False, include_context=False)}, 422)
        except InvalidJson as error:
            return _json({"detail": str(error)}, 400)

    endpoint.__name__ = handler.__name__
    return endpoint


async def _body(request: Request, model: type[M]) -> M:
    raw = await request.body()
    return model.model_validate(loads(raw) if raw.strip() else {})


def _order(request: Request, emulator: Emulator) -> Order:
    app_id = request.query_params.get("app_id", emulator.settings.app_id)
    return current_order(emulator.store, app_id, request.path_params["order_id"])


async def reset(request: Request, emulator: Emulator) -> JsonValue:
    emulator.reset()
    return {"status": "ok"}


async def health(request: Request, emulator: Emulator) -> JsonValue:
    return {"status": "ok"}


async def list_merchants(request: Request, emulator: Emulator) -> JsonValue:
    return [m.model_dump(mode="json") for m in emulator.store.merchants.values()]


async def put_merchant(request: Request, emulator: Emulator) -> JsonValue:
    merchant = await _body(request, MerchantConfig)
    emulator.store.merchants[merchant.app_id] = merchant
    return merchant.model_dump(mode="json")


async def get_config(request: Request, emulator: Emulator) -> JsonValue:
    return emulator.config.model_dump(mode="json")


async def update_config(request: Request, emulator: Emulator) -> JsonValue:
    raw = await request.body()
    changes = loads(raw) if raw.strip() else {}
    emulator.config = EmulatorConfig.model_validate({**emulator.config.model_dump(), **changes})
    return emulator.config.model_dump(mode="json")


async def list_faults(request: Request, emulator: Emulator) -> JsonValue:
    return [f.model_dump(mode="json") for f in emulator.faults.armed()]


async def arm_fault(request: Request, emulator: Emulator) -> JsonValue:
    spec = await _body(request, FaultSpec)
    return emulator.faults.arm(spec).model_dump(mode="json")


async def clear_faults(request: Request, emulator: Emulator) -> JsonValue:
    emulator.faults.clear()
    return {"status": "ok"}


async def pay(request: Request, emulator: Emulator) -> JsonValue:
    order = emulator.store.order_by_session(request.path_params["session_id"])
    if order is None:
        raise not_found("payment_session_id_invalid", "payment_session_id is not valid")
    payment = attempt_payment(emulator, order, await _body(request, PayRequest))
    return payment_entity(payment, order)


def _matching(request: Request, rows: Iterable[BaseModel], fields: dict[str, str]) -> JsonValue:
    """The rows whose fields equal every query parameter sent; `fields` maps a parameter's name
    to the field it filters."""
    query = request.query_params
    return [
        row.model_dump(mode="json")
        for row in rows
        if all(query.get(name) in (None, getattr(row, field)) for name, field in fields.items())
    ]


async def events(request: Request, emulator: Emulator) -> JsonValue:
    fields = {"app_id": "app_id", "type": "event_type", "url": "url", "outcome": "outcome"}
    return _matching(request, emulator.store.deliveries, fields)


async def calls(request: Request, emulator: Emulator) -> JsonValue:
    fields = {"app_id": "app_id", "operation": "operation", "method": "method"}
    return _matching(request, emulator.store.calls, fields)


async def settle(request: Request, emulator: Emulator) -> JsonValue:
    order = _order(request, emulator)
    body = await _body(request, SettleRequest)
    return settlement_entity(settle_order(emulator, order, body.status, short_by=body.short_by))


async def raise_dispute(request: Request, emulator: Emulator) -> JsonValue:
    order = _order(request, emulator)
    body = await _body(request, DisputeRequest)
    dispute = open_dispute(
        emulator,
        order,
        dispute_type=body.dispute_type,
        amount=body.amount,
        respond_within_days=body.respond_within_days,
    )
    return {"dispute_id": dispute.dispute_id, "dispute_status": dispute.status}


async def update_dispute(request: Request, emulator: Emulator) -> JsonValue:
    app_id = request.query_params.get("app_id", emulator.settings.app_id)
    body = await _body(request, MoveDisputeRequest)
    dispute = move_dispute(emulator, app_id, request.path_params["dispute_id"], body.status)
    return {"dispute_id": dispute.dispute_id, "dispute_status": dispute.status}


async def settle_together(request: Request, emulator: Emulator) -> JsonValue:
    body = await _body(request, SettleOrdersRequest)
    app_id = request.query_params.get("app_id", emulator.settings.app_id)
    orders = [current_order(emulator.store, app_id, order_id) for order_id in body.order_ids]
    return [settlement_entity(s) for s in settle_orders(emulator, orders, body.status)]


async def trigger_auto_refund(request: Request, emulator: Emulator) -> JsonValue:
    order = _order(request, emulator)
    body = await _body(request, AutoRefundRequest)
    return refund_entity(auto_refund(emulator, order.app_id, order.order_id, body))


async def trigger_dashboard_refund(request: Request, emulator: Emulator) -> JsonValue:
    order = _order(request, emulator)
    body = await _body(request, DashboardRefundRequest)
    return refund_entity(dashboard_refund(emulator, order.app_id, order.order_id, body))


async def resolve(request: Request, emulator: Emulator) -> JsonValue:
    order = _order(request, emulator)
    refund = emulator.store.refunds.get((order.app_id, request.path_params["refund_id"]))
    if refund is None or refund.order_id != order.order_id:
        raise not_found("refund_not_found", "refund not found for the refund_id")
    body = await _body(request, ResolveRefundRequest)
    resolve_refund(emulator, refund, body.status, contradict=body.contradict)
    return refund_entity(refund)


async def reverse(request: Request, emulator: Emulator) -> JsonValue:
    order = _order(request, emulator)
    refund = emulator.store.refunds.get((order.app_id, request.path_params["refund_id"]))
    if refund is None or refund.order_id != order.order_id:
        raise not_found("refund_not_found", "refund not found for the refund_id")
    return refund_entity(reverse_refund(refund))


async def expire(request: Request, emulator: Emulator) -> JsonValue:
    order = _order(request, emulator)
    if order.status == "ACTIVE":
        order.status = "EXPIRED"
    return {"order_id": order.order_id, "order_status": order.status}


def _r(path: str, handler: ControlHandler, *methods: str) -> Route:
    return Route("/_emulator" + path, _control(handler), methods=list(methods))


ROUTES = [
    _r("/health", health, "GET"),
    _r("/reset", reset, "POST"),
    _r("/merchants", list_merchants, "GET"),
    _r("/merchants", put_merchant, "POST", "PUT"),
    _r("/config", get_config, "GET"),
    _r("/config", update_config, "POST", "PUT"),
    _r("/faults", list_faults, "GET"),
    _r("/faults", arm_fault, "POST"),
    _r("/faults", clear_faults, "DELETE"),
    _r("/checkout/{session_id}", pay, "POST"),
    _r("/events", events, "GET"),
    _r("/calls", calls, "GET"),
    _r("/orders/{order_id}/settle", settle, "POST"),
    _r("/settlements", settle_together, "POST"),
    _r("/orders/{order_id}/disputes", raise_dispute, "POST"),
    _r("/disputes/{dispute_id}", update_dispute, "POST"),
    _r("/orders/{order_id}/auto-refund", trigger_auto_refund, "POST"),
    _r("/orders/{order_id}/refunds", trigger_dashboard_refund, "POST"),
    _r("/orders/{order_id}/refunds/{refund_id}/resolve", resolve, "POST"),
    _r("/orders/{order_id}/refunds/{refund_id}/reverse", reverse, "POST"),
    _r("/orders/{order_id}/expire", expire, "POST"),
]
