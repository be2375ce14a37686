"""The payment gateway: one interface (`PaymentGateway`), Cashfree behind it.

Services import from here; Cashfree's wire format and statuses stay inside this package.
"""

from paycore.gateway.cashfree import CashfreeGateway
from paycore.gateway.context import current_request_id, request_id_scope
from paycore.gateway.errors import (
    GatewayAuthError,
    GatewayConflict,
    GatewayError,
    GatewayIdempotencyError,
    GatewayInvalidResponse,
    GatewayNotFound,
    GatewayRateLimited,
    GatewayServerError,
    GatewayTimeout,
    GatewayUnavailable,
    GatewayValidationError,
)
from paycore.gateway.interface import PaymentGateway
from paycore.gateway.retry import RetryPolicy
from paycore.gateway.schemas import (
    AttemptError,
    AttemptStatus,
    Customer,
    Order,
    OrderRequest,
    OrderStatus,
    Payment,
    ReconEntry,
    ReconEventStatus,
    ReconEventType,
    ReconPage,
    ReconQuery,
    Refund,
    RefundRequest,
    RefundSpeed,
    RefundStatus,
    Settlement,
    SettlementPage,
    SettlementQuery,
    SettlementStatus,
    idempotency_key,
)
from paycore.gateway.webhook_signature import (
    WebhookSignatureError,
    sign_webhook,
    verify_webhook_signature,
)

__all__ = [
    "AttemptError",
    "AttemptStatus",
    "CashfreeGateway",
    "Customer",
    "GatewayAuthError",
    "GatewayConflict",
    "GatewayError",
    "GatewayIdempotencyError",
    "GatewayInvalidResponse",
    "GatewayNotFound",
    "GatewayRateLimited",
    "GatewayServerError",
    "GatewayTimeout",
    "GatewayUnavailable",
    "GatewayValidationError",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "Payment",
    "PaymentGateway",
    "ReconEntry",
    "ReconEventStatus",
    "ReconEventType",
    "ReconPage",
    "ReconQuery",
    "Refund",
    "RefundRequest",
    "RefundSpeed",
    "RefundStatus",
    "RetryPolicy",
    "Settlement",
    "SettlementPage",
    "SettlementQuery",
    "SettlementStatus",
    "WebhookSignatureError",
    "current_request_id",
    "idempotency_key",
    "request_id_scope",
    "sign_webhook",
    "verify_webhook_signature",
]
