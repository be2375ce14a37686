"""Cashfree's error body `{message, code, type, help}` and the statuses of fact sheet §6."""

from typing import Any

HELP = (
    "Check latest errors and resolution from Merchant Dashboard API logs: "
    "https://merchant.cashfree.com/merchants/pg/developers/api-logs "
    "Help Document: https://www.cashfree.com/docs/api-reference/payments/errors"
)

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    422: "idempotency_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
}
# SPEC25's 401 and 429 schemas have no `help`.
_NO_HELP = {401, 429}


class CashfreeError(Exception):
    """An error response exactly as Cashfree renders it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error_type = error_type or _TYPE_BY_STATUS.get(status, "api_error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code, "type": self.error_type}
        if self.status not in _NO_HELP:
            body["help"] = HELP
        return body


def invalid(code: str, message: str) -> CashfreeError:
    return CashfreeError(400, code, message)


def not_found(code: str, message: str) -> CashfreeError:
    return CashfreeError(404, code, message)


def conflict(code: str, message: str) -> CashfreeError:
    return CashfreeError(409, code, message)
