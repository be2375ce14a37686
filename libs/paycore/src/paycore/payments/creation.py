"""Creating a payment: our record first, then the gateway order, then PENDING.

The payment (CREATED, with its `order_id`) is inserted before the gateway is called, and the
gateway is asked with a key derived from that `order_id`. So a request that dies after the
gateway created the order but before we stored its answer leaves a CREATED payment behind, and
the retried request (same user, same Idempotency-Key) finds it and finishes the job: the gateway
replays or reports the order as existing, and the client fetches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from loguru import logger

from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail, action_entry
from paycore.gateway.errors import GatewayValidationError
from paycore.gateway.interface import PaymentGateway
from paycore.gateway.schemas import GatewayCustomer, GatewayOrderRequest, idempotency_key
from paycore.idempotency.store import check_same_request
from paycore.kit.crypto import FieldCipher
from paycore.kit.ids import new_id
from paycore.kit.mongo import is_duplicate_key
from paycore.kit.state import Evidence, TransitionRecord
from paycore.payments.models import Customer, Payment, PaymentStatus, order_id_for
from paycore.payments.service import PaymentService, payment_events


@dataclass(frozen=True)
class CustomerDetails:
    phone: str
    customer_id: str | None = None
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class NewPayment:
    user_id: str
    idempotency_key: str
    request_fingerprint: str
    amount: int  # minor units
    currency: str
    customer: CustomerDetails
    invoice_number: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    return_url: str | None = None
    risk_flags: tuple[str, ...] = ()
    payment_id: str = field(default_factory=lambda: new_id("pay"))


@dataclass(frozen=True)
class Started:
    payment: Payment
    created: bool  # False: an earlier request with the same key made it


class PaymentCreator:
    def __init__(
        self,
        gateway: PaymentGateway,
        cipher: FieldCipher,
        payments: PaymentService | None = None,
        *,
        notify_url: str | None = None,
        order_expiry: timedelta | None = None,
    ) -> None:
        self.gateway = gateway
        self.cipher = cipher
        self.payments = payments or PaymentService()
        self.notify_url = notify_url
        # `order_expiry_time` of every order, from the payment's creation (stable on retries).
        self.order_expiry = order_expiry

    async def existing(self, user_id: str, key: str, request_fingerprint: str) -> Payment | None:
        """The payment an earlier request with this key made; refuses another body."""
        payment = await self.payments.repository.get_by_idempotency_key(user_id, key)
        if payment is not None:
            check_same_request(payment.request_fingerprint, request_fingerprint)
        return payment

    async def start(self, new: NewPayment, *, looked_up: bool = False) -> Started:
        """Inserts the payment as CREATED, or finds the one a same-key request made.
        `looked_up`: the caller just checked `existing`; the unique index covers the race."""
        if not looked_up:
            found = await self.existing(new.user_id, new.idempotency_key, new.request_fingerprint)
            if found is not None:
                return Started(found, created=False)
        payment = Payment(
            payment_id=new.payment_id,
            order_id=order_id_for(new.payment_id),
            user_id=new.user_id,
            idempotency_key=new.idempotency_key,
            request_fingerprint=new.request_fingerprint,
            amount=new.amount,
            currency=new.currency,
            customer=self._seal(new.customer),
            invoice_number=new.invoice_number,
            metadata=dict(new.metadata),
            risk_flags=list(new.risk_flags),
        )
        try:
            await self.payments.repository.insert(payment)
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise
            # A concurrent request with the same key inserted first: carry on with its payment.
            winner = await self.existing(new.user_id, new.idempotency_key, new.request_fingerprint)
            if winner is None:
                raise
            return Started(winner, created=False)
        return Started(payment, created=True)

    async def open_order(
        self, payment: Payment, *, return_url: str | None = None, created_by: Actor | None = None
    ) -> Payment:
        """Creates (or recovers) the gateway order of a CREATED payment and moves it to PENDING.
        A payment past CREATED is returned as it is. With `created_by`, their `payment.create`
        audit record (the payment as opened) is in its chain when this returns."""
        if payment.status != PaymentStatus.CREATED:
            return payment
        request = GatewayOrderRequest(
            order_id=payment.order_id,
            amount_minor=payment.amount,
            currency=payment.currency,
            customer=self._open(payment.customer),
            return_url=return_url,
            notify_url=self.notify_url,
            expires_at=payment.created_at + self.order_expiry if self.order_expiry else None,
            tags={"payment_id": payment.payment_id},
        )
        try:
            order = await self.gateway.create_order(
                request, idempotency_key=idempotency_key("create_order", payment.order_id)
            )
        except GatewayValidationError as error:
            # The gateway will never accept this order: say so on the payment, once. (An
            # "already exists" it cannot find is an unknown outcome, never this.)
            await self.payments.transition(
                payment.payment_id,
                PaymentStatus.FAILED,
                Evidence(source="gateway", detail={"code": error.gateway_code or error.code}),
                changes={"failure_reason": error.gateway_code or "order_rejected"},
                keep_refused=True,
                expected=frozenset({PaymentStatus.CREATED}),
            )
            raise
        evidence = Evidence(source="gateway", reference=order.gateway_order_id)
        changes = {
            "cf_order_id": order.gateway_order_id,
            "payment_session_id": order.payment_session_id,
        }
        # The creator's record goes in with the PENDING write: one write and one drain fewer.
        opened_as = {**audited(payment), "status": PaymentStatus.PENDING.value}
        opened_as["cf_order_id"] = order.gateway_order_id
        creation = (
            []
            if created_by is None
            else [action_entry(created_by, "payment.create", after=opened_as)]
        )
        # The payment we hold is usually still current: one guarded update, no re-read.
        opened = await self.payments.repository.transition(
            payment,
            PaymentStatus.PENDING,
            TransitionRecord(
                from_status=payment.status.value,
                to_status=PaymentStatus.PENDING.value,
                evidence=evidence,
            ),
            payment_events(payment, PaymentStatus.PENDING, **changes),
            changes,
            also_audit=creation,
        )
        if opened is None:  # changed meanwhile (a concurrent retry): the general path decides
            outcome = await self.payments.transition(
                payment.payment_id,
                PaymentStatus.PENDING,
                evidence,
                changes=changes,
                keep_refused=True,
            )
            opened = outcome.payment
            if created_by is not None:
                await AuditTrail().append(
                    created_by,
                    "payment.create",
                    "payment",
                    opened.payment_id,
                    after=audited(opened),
                )
        logger.info("payment opened", paymentId=payment.payment_id, orderId=payment.order_id)
        return opened

    def _seal(self, details: CustomerDetails) -> Customer:
        cipher = self.cipher
        phone_hash = cipher.lookup_hash(details.phone)
        return Customer(
            # Cashfree wants a customer id; a stable one per phone if the client sent none.
            customer_id=details.customer_id or f"cus_{phone_hash[:20]}",
            name=cipher.seal(details.name, "customer.name") if details.name else None,
            email=cipher.seal(details.email, "customer.email") if details.email else None,
            phone=cipher.seal(details.phone, "customer.phone"),
            email_hash=cipher.lookup_hash(details.email) if details.email else None,
            phone_hash=phone_hash,
        )

    def _open(self, customer: Customer) -> GatewayCustomer:
        cipher = self.cipher
        return GatewayCustomer(
            customer_id=customer.customer_id,
            phone=cipher.open(customer.phone, "customer.phone"),
            email=cipher.open(customer.email, "customer.email") if customer.email else None,
            name=cipher.open(customer.name, "customer.name") if customer.name else None,
        )


def audited(payment: Payment) -> dict[str, object]:
    """What a `payment.create` audit record shows of the payment."""
    return {
        "status": payment.status.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "order_id": payment.order_id,
        "cf_order_id": payment.cf_order_id,
        "invoice_number": payment.invoice_number,
        "risk_flags": payment.risk_flags,
    }
