"""The error catalog: one class per code, and a class answers the status its kind says."""

from __future__ import annotations

import importlib
import pkgutil

import paycore
import pytest
from paycore.kit.errors import CATALOG, STATUS_CLASSES, AppError, Conflict, NotFound
from paycore.payments.errors import PaymentNotFound


def _import_all() -> None:
    for module in pkgutil.walk_packages(paycore.__path__, "paycore."):
        importlib.import_module(module.name)


def test_a_code_declared_twice_fails_at_import() -> None:
    assert CATALOG["payment_not_found"] is PaymentNotFound
    with pytest.raises(TypeError, match="payment_not_found"):

        class AnotherPaymentNotFound(NotFound, code="payment_not_found"):
            """Declared again."""

    assert CATALOG["payment_not_found"] is PaymentNotFound


def test_each_class_answers_the_status_of_its_kind() -> None:
    _import_all()
    disagreeing = [
        (code, error.status, kind.__name__)
        for code, error in CATALOG.items()
        for kind in STATUS_CLASSES
        if issubclass(error, kind) and error.status != kind.status
    ]
    assert disagreeing == []


def test_the_catalog_names_each_class_by_its_code() -> None:
    _import_all()
    assert all(error.code == code for code, error in CATALOG.items())
    assert CATALOG["refund_exceeds_refundable"].status == 422
    assert not issubclass(CATALOG["refund_exceeds_refundable"], Conflict)


def test_the_docstring_is_the_message_and_keywords_set_the_kind() -> None:
    class Busy(AppError, code="test_busy_for_catalog", status=409, retryable=True):
        """Busy; try again."""

    error = Busy(resource="x")
    assert (error.code, error.status, error.retryable) == ("test_busy_for_catalog", 409, True)
    assert error.message == "Busy; try again."
    assert error.details == {"resource": "x"}
    del CATALOG["test_busy_for_catalog"]
