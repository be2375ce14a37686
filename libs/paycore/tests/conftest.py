from collections.abc import AsyncIterator

import hypothesis
import pytest
from paycore.alerts import AdminAlert
from paycore.audit.models import AuditRecord
from paycore.invoices.models import Invoice
from paycore.kit.service import InfraSettings
from paycore.payments.models import Payment, Transaction
from paycore.refunds.models import Refund
from paycore.testing import isolated_database

DOMAIN_MODELS = [Payment, Transaction, Refund, Invoice, AuditRecord, AdminAlert]

# No time limit per generated example (Hypothesis's default is 200 ms): one stall of the
# process (a full garbage collection, the cores busy elsewhere) failed a pure-function test as
# "unreliable". A hang is still ended by the suite's timeout.
hypothesis.settings.register_profile("paycore", deadline=None)
hypothesis.settings.load_profile("paycore")


@pytest.fixture
async def domain_db() -> AsyncIterator[InfraSettings]:
    """A fresh database with every domain collection and its indexes."""
    async with isolated_database(DOMAIN_MODELS) as settings:
        yield settings
