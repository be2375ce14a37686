from collections.abc import AsyncIterator

import pytest
from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.invoices.models import Invoice
from paycore.kit.service import InfraSettings
from paycore.payments.models import Payment, Transaction
from paycore.refunds.models import Refund
from paycore.testing import isolated_database

DOMAIN_MODELS = [Payment, Transaction, Refund, Invoice, AuditRecord, AdminAlert]


@pytest.fixture
async def domain_db() -> AsyncIterator[InfraSettings]:
    """A fresh database with every domain collection and its indexes."""
    async with isolated_database(DOMAIN_MODELS) as settings:
        yield settings
