"""Settlement listing and reconciliation reports with cursor pagination (fact sheet §5)."""

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cashfree_emulator.entities import settlement_entity
from cashfree_emulator.errors import invalid
from cashfree_emulator.records import Settlement
from cashfree_emulator.store import Store
from cashfree_emulator.validation import require_object
from cashfree_emulator.wire import JsonObject, iso, parse_datetime

MIN_LIMIT = 10  # SPEC25's example: "pagination.limit : should be at least 10"
MAX_LIMIT = 1000


def list_settlements(store: Store, app_id: str, raw_body: object) -> JsonObject:
    body = require_object(raw_body)
    limit, offset = _pagination(body)
    filters = _filters(body, dates_required=False)
    statuses = filters.get("settlement_status")
    settlements = [
        s
        for s in _matching(store.settlements_of(app_id), filters)
        # Only settled money unless statuses are asked for (2026-01-01 filter).
        if (s.status in statuses if isinstance(statuses, list) else s.status == "SUCCESS")
    ]
    return _page([settlement_entity(s) for s in settlements], limit, offset)


def settlement_recon(
    store: Store, app_id: str, raw_body: object, version: str = "2023-08-01"
) -> JsonObject:
    """The events of the settlements made in the filters' range (or ids, UTRs)."""
    return _report(store, app_id, raw_body, version, ledger=False)


def pg_recon(
    store: Store,
    app_id: str,
    raw_body: object,
    version: str = "2023-08-01",
    *,
    unsettled: bool = False,
) -> JsonObject:
    """The account's events in the (required) date range, SETTLEMENT rows included. Whether
    Cashfree lists a capture before it settles is not documented (fact sheet §5): by default
    only settled events are listed; `unsettled` adds the captures made in the range that are
    not settled yet (the wider reading)."""
    return _report(store, app_id, raw_body, version, ledger=True, unsettled=unsettled)


def _report(
    store: Store,
    app_id: str,
    raw_body: object,
    version: str,
    *,
    ledger: bool,
    unsettled: bool = False,
) -> JsonObject:
    body = require_object(raw_body)
    limit, offset = _pagination(body)
    filters = _filters(body, dates_required=ledger)
    settlements = [
        s for s in _matching(store.settlements_of(app_id), filters) if s.status == "SUCCESS"
    ]
    items = _recon_items(store, settlements, with_settlement_rows=ledger)
    if unsettled:
        items += _unsettled_captures(store, app_id, filters)
    return _page(_shaped(items, version), limit, offset)


def _unsettled_captures(store: Store, app_id: str, filters: dict[str, Any]) -> list[JsonObject]:
    """PAYMENT credits of the captures made in the range whose order has no settlement yet."""
    settled = {s.order_id for s in store.settlements_of(app_id) if s.status == "SUCCESS"}
    start: datetime | None = filters.get("start")
    end: datetime | None = filters.get("end")
    items: list[JsonObject] = []
    for payment in store.payments.values():
        when = payment.completion_time or payment.payment_time
        if (
            payment.app_id != app_id
            or payment.status != "SUCCESS"
            or payment.order_id in settled
            or (start and when < start)
            or (end and when > end)
        ):
            continue
        order = store.orders[(app_id, payment.order_id)]
        items.append(
            {
                "order_id": order.order_id,
                "order_amount": order.amount,
                "payment_amount": payment.amount,
                "payment_time": iso(payment.payment_time),
                "cf_payment_id": payment.cf_payment_id,
                "event_currency": payment.currency,
                "event_id": payment.cf_payment_id,
                "event_type": "PAYMENT",
                "event_amount": payment.amount,
                "sale_type": "CREDIT",
                "event_status": "SUCCESS",
                "entity": "recon",
                "event_time": iso(when),
            }
        )
    return items


# 2026-01-01 recon items are nested (fact sheet §5): each flat field goes to its section, under
# the section's own name where it has one.
_SECTIONS: dict[str, dict[str, str]] = {
    "event_details": {
        name: name
        for name in (
            "event_id",
            "event_type",
            "event_amount",
            "event_settlement_amount",
            "sale_type",
            "event_status",
            "entity",
            "event_time",
            "event_currency",
        )
    },
    "order_details": {"order_id": "order_id", "order_amount": "order_amount"},
    "customer_details": {
        "customer_phone": "customer_phone",
        "customer_email": "customer_email",
        "customer_name": "customer_name",
    },
    "payment_details": {
        "payment_amount": "payment_amount",
        "payment_time": "payment_time",
        "payment_service_charge": "payment_service_charge",
        "payment_service_tax": "payment_service_tax",
        "cf_payment_id": "cf_payment_id",
    },
    "settlement_details": {
        "cf_settlement_id": "cf_settlement_id",
        "settlement_date": "settlement_date",
        "settlement_utr": "utr",
        "service_charge": "service_charge",
        "service_tax": "service_tax",
        "amount_settled": "amount_settled",
        "settlement_type": "settlement_type",
        "settlement_initiated_on": "settlement_initiated_on",
        "adjustment": "adjustment",
    },
    "refund_details": {
        "refund_id": "refund_id",
        "refund_arn": "refund_arn",
        "refund_note": "refund_note",
        "refund_processed_at": "refund_processed_at",
    },
}


def _shaped(items: list[JsonObject], version: str) -> list[JsonObject]:
    """Flat items (2023-08-01, 2025-01-01) as they are; nested ones from 2026-01-01."""
    if version < "2026-01-01":
        return items
    return [
        {
            section: {nested: item[flat] for flat, nested in names.items() if flat in item}
            for section, names in _SECTIONS.items()
        }
        for item in items
    ]


def _recon_items(
    store: Store, settlements: Sequence[Settlement], *, with_settlement_rows: bool = False
) -> list[JsonObject]:
    """Flat (2023-08-01 style) rows: a PAYMENT credit and REFUND debits per settlement."""
    items: list[JsonObject] = []
    for settlement in settlements:
        order = store.orders[(settlement.app_id, settlement.order_id)]
        common: JsonObject = {
            "order_id": order.order_id,
            "order_amount": order.amount,
            "customer_phone": order.customer_details.get("customer_phone"),
            "customer_email": order.customer_details.get("customer_email"),
            "customer_name": order.customer_details.get("customer_name"),
            "payment_amount": settlement.payment_amount,
            "payment_time": iso(settlement.payment_time),
            "payment_service_charge": settlement.service_charge,
            "payment_service_tax": settlement.service_tax,
            "cf_payment_id": settlement.cf_payment_id,
            "cf_settlement_id": str(settlement.cf_settlement_id),
            "settlement_date": iso(settlement.settled_on),
            "settlement_utr": settlement.utr,
            "event_currency": settlement.currency,
        }
        items.append(
            {
                **common,
                "event_id": settlement.cf_payment_id,
                "event_type": "PAYMENT",
                "event_amount": settlement.payment_amount,
                "event_settlement_amount": settlement.settlement_amount,
                "sale_type": "CREDIT",
                "event_status": "SUCCESS",
                "entity": "recon",
                "event_time": iso(settlement.payment_time),
            }
        )
        for refund in store.refunds_of(order):
            if refund.status != "SUCCESS":
                continue
            items.append(
                {
                    **common,
                    "event_id": refund.cf_refund_id,
                    "event_type": "REFUND",
                    "event_amount": refund.amount,
                    "event_settlement_amount": -refund.amount,
                    "sale_type": "DEBIT",
                    "event_status": "SUCCESS",
                    "entity": "recon",
                    "event_time": iso(refund.processed_at),
                    "refund_id": refund.refund_id,
                    "refund_arn": refund.refund_arn,
                    "refund_note": refund.note,
                    "refund_processed_at": iso(refund.processed_at),
                }
            )
            if refund.reversed_at is not None:
                items.append(
                    {
                        **common,
                        "event_id": f"{refund.cf_refund_id}_reversal",
                        "event_type": "REFUND_REVERSAL",
                        "event_amount": refund.amount,
                        "event_settlement_amount": refund.amount,
                        "sale_type": "CREDIT",
                        "event_status": "SUCCESS",
                        "entity": "recon",
                        "event_time": iso(refund.reversed_at),
                        "refund_id": refund.refund_id,
                        "refund_arn": refund.refund_arn,
                    }
                )
        if with_settlement_rows:
            items.append(
                {
                    **common,
                    "event_id": str(settlement.cf_settlement_id),
                    "event_type": "SETTLEMENT",
                    "event_amount": settlement.settlement_amount,
                    "event_settlement_amount": settlement.settlement_amount,
                    "sale_type": "DEBIT",
                    "event_status": "SUCCESS",
                    "entity": "recon",
                    "event_time": iso(settlement.settled_on),
                    "amount_settled": settlement.settlement_amount,
                    "service_charge": settlement.service_charge,
                    "service_tax": settlement.service_tax,
                    "settlement_type": "Standard",
                    "settlement_initiated_on": iso(settlement.initiated_on),
                    "adjustment": 0,
                }
            )
    return items


def _pagination(body: JsonObject) -> tuple[int, int]:
    pagination = body.get("pagination")
    if not isinstance(pagination, dict) or "limit" not in pagination:
        raise invalid("pagination.limit_missing", "pagination.limit : is missing in the request")
    limit = pagination["limit"]
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise invalid("pagination.limit_invalid", "pagination.limit : should be an integer")
    if limit < MIN_LIMIT:
        raise invalid(
            "pagination.limit_invalid", f"pagination.limit : should be at least {MIN_LIMIT}"
        )
    if limit > MAX_LIMIT:
        raise invalid(
            "pagination.limit_invalid", f"pagination.limit : should be at max {MAX_LIMIT}"
        )
    return limit, _decode_cursor(pagination.get("cursor"))


def _decode_cursor(cursor: object) -> int:
    if cursor is None or cursor == "":
        return 0
    bad_cursor = invalid("pagination.cursor_invalid", "pagination.cursor : is not valid")
    if not isinstance(cursor, str):
        raise bad_cursor
    try:
        decoded = json.loads(base64.b64decode(cursor, validate=True))
        offset = decoded["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise bad_cursor
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error):
        raise bad_cursor from None
    return offset


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _page(items: list[JsonObject], limit: int, offset: int) -> JsonObject:
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return {
        "cursor": _encode_cursor(offset + limit) if more else None,
        "limit": limit,
        "data": page,
    }


def _filters(body: JsonObject, *, dates_required: bool) -> dict[str, Any]:
    raw = body.get("filters")
    if raw is None:
        raw = {}
    filters = require_object(raw)
    parsed: dict[str, Any] = {}
    for name in ("cf_settlement_ids", "settlement_utrs", "settlement_status"):
        value = filters.get(name)
        if value is not None:
            if not isinstance(value, list):
                raise invalid(f"filters.{name}_invalid", f"filters.{name} : should be a list")
            parsed[name] = [str(v) for v in value]
    start, end = filters.get("start_date"), filters.get("end_date")
    if dates_required and (start is None or end is None):
        raise invalid("filters.start_date_missing", "filters.start_date and end_date are required")
    if start is not None or end is not None:
        parsed["start"], parsed["end"] = _date_range(start, end)
    return parsed


def _date_range(start: object, end: object) -> tuple[datetime | None, datetime | None]:
    # SPEC25 reports bad dates with this (surprising) code.
    try:
        begin = parse_datetime(start) if isinstance(start, str) else None
        finish = parse_datetime(end) if isinstance(end, str) else None
        if (start is not None and begin is None) or (end is not None and finish is None):
            raise ValueError("dates should be strings")
    except ValueError:
        raise invalid("order_expiry_time_invalid", "date should be ISO-8601") from None
    if begin and finish and begin > finish:
        raise invalid("order_expiry_time_invalid", "start_date should be before end_date")
    return begin, finish


def _matching(settlements: list[Settlement], filters: dict[str, Any]) -> list[Settlement]:
    ids = filters.get("cf_settlement_ids")
    utrs = filters.get("settlement_utrs")
    start: datetime | None = filters.get("start")
    end: datetime | None = filters.get("end")
    chosen = []
    for settlement in settlements:
        when = settlement.settled_on or settlement.initiated_on
        if ids is not None and str(settlement.cf_settlement_id) not in ids:
            continue
        if utrs is not None and settlement.utr not in utrs:
            continue
        if (start and when < start) or (end and when > end):
            continue
        chosen.append(settlement)
    return chosen
