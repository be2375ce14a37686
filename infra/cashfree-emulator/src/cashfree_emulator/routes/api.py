"""The Cashfree PG API under `/pg` (fact sheet §2–§5)."""

import time

from starlette.routing import Route

from cashfree_emulator.entities import (
    order_entity,
    payment_entity,
    refund_entity,
    settlement_entity,
)
from cashfree_emulator.errors import not_found
from cashfree_emulator.orders import create_order, current_order, terminate_order
from cashfree_emulator.pipeline import ApiContext, Handler, api_endpoint
from cashfree_emulator.recon import list_settlements, pg_recon, settlement_recon
from cashfree_emulator.refunds import create_refund
from cashfree_emulator.wire import JsonValue


def _create_order(ctx: ApiContext) -> JsonValue:
    return order_entity(create_order(ctx.emulator.store, ctx.app_id, ctx.body))


def _get_order(ctx: ApiContext) -> JsonValue:
    return order_entity(current_order(ctx.emulator.store, ctx.app_id, ctx.path_params["order_id"]))


def _terminate_order(ctx: ApiContext) -> JsonValue:
    order_id = ctx.path_params["order_id"]
    return order_entity(terminate_order(ctx.emulator.store, ctx.app_id, order_id, ctx.body))


def _get_payments(ctx: ApiContext) -> JsonValue:
    store = ctx.emulator.store
    order = current_order(store, ctx.app_id, ctx.path_params["order_id"])
    return [payment_entity(p, order) for p in store.payments_of(order)]


def _get_payment(ctx: ApiContext) -> JsonValue:
    store = ctx.emulator.store
    order = current_order(store, ctx.app_id, ctx.path_params["order_id"])
    payment = store.payments.get(ctx.path_params["cf_payment_id"])
    if payment is None or payment.app_id != ctx.app_id or payment.order_id != order.order_id:
        raise not_found("payment_not_found", "payment not found for the order")
    return payment_entity(payment, order)


def _create_refund(ctx: ApiContext) -> JsonValue:
    order_id = ctx.path_params["order_id"]
    return refund_entity(create_refund(ctx.emulator, ctx.app_id, order_id, ctx.body))


def _get_refund(ctx: ApiContext) -> JsonValue:
    store = ctx.emulator.store
    order = current_order(store, ctx.app_id, ctx.path_params["order_id"])
    refund = store.refunds.get((ctx.app_id, ctx.path_params["refund_id"]))
    lag = ctx.emulator.config.refund_lookup_lag_seconds
    if (
        refund is None
        or refund.order_id != order.order_id
        or time.monotonic() < refund.created_monotonic + lag
    ):
        raise not_found("refund_not_found", "refund not found for the refund_id")
    return refund_entity(refund)


def _get_refunds(ctx: ApiContext) -> JsonValue:
    store = ctx.emulator.store
    order = current_order(store, ctx.app_id, ctx.path_params["order_id"])
    return [refund_entity(r) for r in store.refunds_of(order)]


def _get_settlements(ctx: ApiContext) -> JsonValue:
    return list_settlements(ctx.emulator.store, ctx.app_id, ctx.body)


def _get_order_settlement(ctx: ApiContext) -> JsonValue:
    store = ctx.emulator.store
    order = current_order(store, ctx.app_id, ctx.path_params["order_id"])
    for settlement in store.settlements_of(ctx.app_id):
        if settlement.order_id == order.order_id:
            return settlement_entity(settlement)
    raise not_found("settlement_not_found", "settlement not found for the order")


def _settlement_recon(ctx: ApiContext) -> JsonValue:
    return settlement_recon(ctx.emulator.store, ctx.app_id, ctx.body, ctx.version)


def _pg_recon(ctx: ApiContext) -> JsonValue:
    unsettled = ctx.emulator.config.recon_lists_unsettled
    return pg_recon(ctx.emulator.store, ctx.app_id, ctx.body, ctx.version, unsettled=unsettled)


def _route(path: str, operation: str, handler: Handler, method: str) -> Route:
    return Route(path, api_endpoint(operation, handler), methods=[method])


ROUTES = [
    _route("/orders", "create_order", _create_order, "POST"),
    _route("/orders/{order_id}", "get_order", _get_order, "GET"),
    _route("/orders/{order_id}", "terminate_order", _terminate_order, "PATCH"),
    _route("/orders/{order_id}/payments", "get_payments", _get_payments, "GET"),
    _route("/orders/{order_id}/payments/{cf_payment_id}", "get_payment", _get_payment, "GET"),
    _route("/orders/{order_id}/refunds", "create_refund", _create_refund, "POST"),
    _route("/orders/{order_id}/refunds", "get_refunds", _get_refunds, "GET"),
    _route("/orders/{order_id}/refunds/{refund_id}", "get_refund", _get_refund, "GET"),
    _route("/orders/{order_id}/settlements", "get_order_settlement", _get_order_settlement, "GET"),
    _route("/settlements", "get_settlements", _get_settlements, "POST"),
    _route("/settlement/recon", "get_settlement_recon", _settlement_recon, "POST"),
    _route("/recon", "get_recon", _pg_recon, "POST"),
]
