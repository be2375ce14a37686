"""All emulator state, in dicts. Handlers read and write it without awaiting in between,
so on the single-threaded event loop every check-then-write is atomic."""

import itertools
import secrets
import string

from cashfree_emulator.errors import not_found
from cashfree_emulator.records import Dispute, IdempotentReply, Order, Payment, Refund, Settlement
from cashfree_emulator.schemas import ApiCall, MerchantConfig, WebhookAttempt

_ALNUM = string.ascii_letters + string.digits


def random_token(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_digits(length: int) -> str:
    # No leading zero, so the value survives being sent as a JSON number.
    return secrets.choice("123456789") + random_token(length - 1, string.digits)


class Store:
    def __init__(self, merchants: list[MerchantConfig]) -> None:
        self.merchants: dict[str, MerchantConfig] = {m.app_id: m for m in merchants}
        self.orders: dict[tuple[str, str], Order] = {}
        self.sessions: dict[str, tuple[str, str]] = {}
        self.payments: dict[str, Payment] = {}
        self.refunds: dict[tuple[str, str], Refund] = {}
        self.settlements: list[Settlement] = []
        self.disputes: dict[tuple[str, str], Dispute] = {}
        self._dispute_ids = itertools.count(433475258)
        self.idempotency: dict[tuple[str, str], IdempotentReply] = {}
        self.calls: list[ApiCall] = []
        self.deliveries: list[WebhookAttempt] = []
        # Numeric IDs (as strings on the API) so that webhooks can carry them as numbers.
        self._cf_order_ids = itertools.count(2149460581)
        self._cf_payment_ids = itertools.count(1453002795)
        self._cf_refund_ids = itertools.count(11325632)
        self._cf_settlement_ids = itertools.count(738)
        self._transfer_ids = itertools.count(1209)
        self._record_ids = itertools.count(1)

    def next_cf_order_id(self) -> str:
        return str(next(self._cf_order_ids))

    def next_cf_payment_id(self) -> str:
        return str(next(self._cf_payment_ids))

    def next_cf_refund_id(self) -> str:
        return str(next(self._cf_refund_ids))

    def next_dispute_id(self) -> str:
        return str(next(self._dispute_ids))

    def next_cf_settlement_id(self) -> int:
        return next(self._cf_settlement_ids)

    def next_transfer_id(self) -> int:
        return next(self._transfer_ids)

    def next_record_id(self) -> int:
        return next(self._record_ids)

    def new_session_id(self) -> str:
        return "session_" + random_token(60)

    def order(self, app_id: str, order_id: str) -> Order:
        order = self.orders.get((app_id, order_id))
        if order is None:
            raise not_found("order_not_found", "order not found for the order_id")
        return order

    def order_by_session(self, session_id: str) -> Order | None:
        key = self.sessions.get(session_id)
        return self.orders.get(key) if key else None

    def payments_of(self, order: Order) -> list[Payment]:
        return [
            p
            for p in self.payments.values()
            if p.app_id == order.app_id and p.order_id == order.order_id
        ]

    def successful_payments(self, order: Order) -> list[Payment]:
        return [p for p in self.payments_of(order) if p.status == "SUCCESS"]

    def refunds_of(self, order: Order) -> list[Refund]:
        return [
            r
            for r in self.refunds.values()
            if r.app_id == order.app_id and r.order_id == order.order_id
        ]

    def settlements_of(self, app_id: str) -> list[Settlement]:
        return [s for s in self.settlements if s.app_id == app_id]
