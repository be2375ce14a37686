"""Sandbox payment instruments and failure reasons used by checkout attempts."""

from typing import Any

from cashfree_emulator.errors import invalid
from cashfree_emulator.wire import JsonObject

# method name → (payment_group, payment_method object with exactly one key)
_METHODS: dict[str, tuple[str, JsonObject]] = {
    "upi": (
        "upi",
        {
            "upi": {
                "channel": "collect",
                "upi_id": "testsuccess@gocash",
                "upi_payer_ifsc": "SBIN0025434",
                "upi_payer_account_number": "XXXXX0231",
            }
        },
    ),
    "card": (
        "credit_card",
        {
            "card": {
                "channel": "link",
                "card_number": "XXXXXXXXXXXX1111",
                "card_network": "visa",
                "card_type": "credit_card",
                "card_sub_type": "R",
                "card_country": "IN",
                "card_bank_name": "TEST Bank",
                "card_network_reference_id": "100212023051400",
                "instrument_id": None,
            }
        },
    ),
    "debit_card": (
        "debit_card",
        {
            "card": {
                "channel": "link",
                "card_number": "XXXXXXXXXXXX0008",
                "card_network": "mastercard",
                "card_type": "debit_card",
                "card_sub_type": "R",
                "card_country": "IN",
                "card_bank_name": "TEST Bank",
                "card_network_reference_id": None,
                "instrument_id": None,
            }
        },
    ),
    "netbanking": (
        "net_banking",
        {
            "netbanking": {
                "channel": "link",
                "netbanking_bank_code": "3044",
                "netbanking_bank_name": "State Bank Of India",
                "netbanking_ifsc": None,
                "netbanking_account_number": None,
            }
        },
    ),
    "app": (
        "wallet",
        {"app": {"channel": "link", "provider": "paytm", "phone": "9999999999"}},
    ),
    "paylater": (
        "pay_later",
        {"paylater": {"channel": "link", "provider": "simpl", "phone": "9999999999"}},
    ),
    "cardless_emi": (
        "cardless_emi",
        {"cardless_emi": {"channel": "link", "provider": "flexmoney", "phone": "9999999999"}},
    ),
    "banktransfer": (
        "bank_transfer",
        {
            "banktransfer": {
                "channel": "link",
                "banktransfer_bank_name": "HDFC Bank",
                "banktransfer_ifsc": "HDFC0000001",
                "banktransfer_account_number": "XXXXXX4321",
            }
        },
    ),
}

PAYMENT_METHODS = tuple(_METHODS)

# failure_reason → error_details (fact sheet §3 and §6 examples)
_FAILURES: dict[str, JsonObject] = {
    "auth_declined": {
        "error_code": "TRANSACTION_DECLINED",
        "error_description": "Transaction declined by the customer's bank",
        "error_source": "customer",
    },
    "bank_rejected": {
        "error_code": "TRANSACTION_DECLINED",
        "error_description": "Transaction rejected by the bank",
        "error_source": "bank",
    },
    "insufficient_funds": {
        "error_code": "TRANSACTION_DECLINED",
        "error_description": "Insufficient funds in the account",
        "error_source": "customer",
    },
    "invalid_amount": {
        "error_code": "GATEWAY_ERROR",
        "error_description": "Amount is not valid for this payment",
        "error_source": "cashfree",
    },
    "gateway_error": {
        "error_code": "GATEWAY_ERROR",
        "error_description": "Payment gateway error",
        "error_source": "cashfree",
    },
}

FAILURE_REASONS = tuple(_FAILURES)
DEFAULT_FAILURE_REASON = "auth_declined"


def instrument(method: str) -> tuple[str, JsonObject]:
    """The payment_group and payment_method object of a sandbox instrument."""
    try:
        group, details = _METHODS[method]
    except KeyError:
        raise invalid(
            "payment_method_unsupported",
            f"payment_method should be one of {', '.join(PAYMENT_METHODS)}",
        ) from None
    return group, {key: dict(value) for key, value in details.items()}


def error_details(reason: str | None) -> dict[str, Any]:
    reason = reason or DEFAULT_FAILURE_REASON
    base = _FAILURES.get(reason, _FAILURES["gateway_error"])
    return {
        **base,
        "error_reason": reason,
        "error_code_raw": "U30" if base["error_source"] == "bank" else None,
        "error_description_raw": base["error_description"],
        "error_subcode_raw": None,
    }
