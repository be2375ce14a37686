from collections.abc import AsyncIterator

import pytest
from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.invoices.models import Invoice
from paycore.kit.mongo import connect_mongo
from paycore.kit.service import InfraSettings
from paycore.payments.models import Payment, Transaction
from paycore.refunds.models import Refund
from paycore.testing import isolated_settings

DOMAIN_MODELS = [Payment, Transaction, Refund, Invoice, AuditRecord, AdminAlert]


@pytest.fixture
async def domain_db() -> AsyncIterator[InfraSettings]:
    """A fresh database with every domain collection and its indexes."""
    settings = isolated_settings()
    client = await connect_mongo(settings, DOMAIN_MODELS)
    yield settings
    await client.drop_database(settings.mongo_db)
    await client.close()
