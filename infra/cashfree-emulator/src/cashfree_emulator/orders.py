"""Create, read and terminate orders (fact sheet §2)."""

from datetime import datetime, timedelta
from decimal import Decimal

from cashfree_emulator.errors import conflict, invalid
from cashfree_emulator.records import Order, Payment
from cashfree_emulator.store import Store, random_token
from cashfree_emulator.validation import (
    EMAIL_PATTERN,
    ID_PATTERN,
    PHONE_PATTERN,
    URL_PATTERN,
    amount,
    identifier,
    missing,
    require_object,
    text,
)
from cashfree_emulator.wire import JsonObject, now_ist, parse_datetime

CURRENCIES = frozenset({"INR", "USD", "EUR", "GBP", "AED", "SGD", "AUD", "CAD"})
# UNCONFIRMED default; the docs sample shows about 29-30 days after created_at.
DEFAULT_EXPIRY = timedelta(days=30)
MAX_TAGS = 15


def create_order(store: Store, app_id: str, raw_body: object) -> Order:
    body = require_object(raw_body)
    order_id = identifier(body, "order_id", max_length=45, required=False)
    order_amount = amount(body.get("order_amount"), "order_amount", minimum=Decimal(1))
    currency = _currency(body.get("order_currency"))
    customer = _customer_details(body.get("customer_details"))
    meta = _order_meta(body.get("order_meta"))
    note = text(body, "order_note", min_length=3, max_length=200)
    tags = _order_tags(body.get("order_tags"))
    created_at = now_ist()
    expires_at = _expiry(body.get("order_expiry_time"), created_at)
    if order_id is None:
        order_id = "order_" + random_token(30)
    if (app_id, order_id) in store.orders:
        raise conflict("order_already_exists", "order with same id is already present")
    order = Order(
        app_id=app_id,
        order_id=order_id,
        cf_order_id=store.next_cf_order_id(),
        payment_session_id=store.new_session_id(),
        amount=order_amount,
        currency=currency,
        status="ACTIVE",
        customer_details=customer,
        order_meta=meta,
        order_note=note,
        order_tags=tags,
        order_splits=list(body.get("order_splits") or []),
        created_at=created_at,
        expires_at=expires_at,
    )
    store.orders[(app_id, order_id)] = order
    store.sessions[order.payment_session_id] = (app_id, order_id)
    return order


def current_order(store: Store, app_id: str, order_id: str) -> Order:
    """The order, with its expiry applied (Cashfree expires unpaid orders lazily for us)."""
    order = store.order(app_id, order_id)
    expire_if_due(order)
    return order


def paid_payments(store: Store, order: Order, refusal: str) -> list[Payment]:
    """The order's successful payments; 409 `order_not_paid` with `refusal` if none."""
    paid = store.successful_payments(order)
    if not paid:
        raise conflict("order_not_paid", refusal)
    return paid


def expire_if_due(order: Order) -> None:
    if order.status == "ACTIVE" and now_ist() >= order.expires_at:
        order.status = "EXPIRED"


def terminate_order(store: Store, app_id: str, order_id: str, raw_body: object) -> Order:
    body = require_object(raw_body)
    if body.get("order_status") != "TERMINATED":
        raise invalid("order_status_invalid", "order_status : should be TERMINATED")
    order = current_order(store, app_id, order_id)
    if order.status == "PAID":
        raise conflict("order_already_paid", "order is already paid and cannot be terminated")
    if order.status == "EXPIRED":
        raise conflict("order_inactive", "order is expired and cannot be terminated")
    order.status = "TERMINATED"
    return order


def _currency(value: object) -> str:
    if value is None:
        raise missing("order_currency")
    if not isinstance(value, str) or value not in CURRENCIES:
        raise invalid("order_currency_invalid", "order_currency : is not enabled for the account")
    return value


def _customer_details(value: object) -> JsonObject:
    # Required in every version here (optional only in 2026-01-01): the stricter rule.
    if value is None:
        raise missing("customer_details")
    details = require_object(value)
    text(
        details,
        "customer_id",
        min_length=3,
        max_length=50,
        required=True,
        pattern=ID_PATTERN,
    )
    text(details, "customer_phone", min_length=10, max_length=16, required=True)
    phone = details["customer_phone"]
    if not PHONE_PATTERN.fullmatch(phone):
        raise invalid("customer_phone_invalid", "customer_phone : should be 10 digits")
    text(details, "customer_email", min_length=3, max_length=100, pattern=EMAIL_PATTERN)
    text(details, "customer_name", min_length=3, max_length=100)
    text(details, "customer_bank_account_number", min_length=3, max_length=20)
    text(details, "customer_bank_ifsc", min_length=11, max_length=11)
    return dict(details)


def _order_meta(value: object) -> JsonObject:
    if value is None:
        return {}
    meta = require_object(value)
    text(
        meta,
        "return_url",
        min_length=1,
        max_length=250,
        pattern=URL_PATTERN,
        code="return_url_value_invalid",
    )
    # Cashfree demands https; local receivers are plain http, so both are accepted here.
    text(meta, "notify_url", min_length=1, max_length=250, pattern=URL_PATTERN)
    text(meta, "payment_methods", min_length=0, max_length=200)
    return dict(meta)


def _order_tags(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_TAGS:
        raise invalid("order_tags_invalid", f"order_tags : should be at most {MAX_TAGS} pairs")
    for tag in value.values():
        if not isinstance(tag, str) or not 1 <= len(tag) <= 255:
            raise invalid("order_tags_invalid", "order_tags : values should be 1-255 characters")
    return dict(value)


def _expiry(value: object, created_at: datetime) -> datetime:
    if value is None:
        return created_at + DEFAULT_EXPIRY
    bad_format = invalid(
        "order_expiry_time_invalid", "order_expiry_time : should be ISO-8601 with an offset"
    )
    if not isinstance(value, str):
        raise bad_format
    try:
        expiry = parse_datetime(value)
    except ValueError:
        raise bad_format from None
    if expiry <= created_at:
        raise invalid("order_expiry_time_invalid", "order_expiry_time : should be in the future")
    return expiry
