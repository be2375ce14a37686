import os
from collections.abc import AsyncIterator

import pytest
from paycore.emails.models import EmailLog
from paycore.invoices.models import Invoice
from paycore.kit.crypto import FieldCipher, cipher_from
from paycore.kit.service import InfraSettings
from paycore.payments.models import Payment
from paycore.testing import isolated_database
from smtp_sink.testing import RunningSmtpSink, running_smtp_sink

EMAIL_MODELS = [Payment, Invoice, EmailLog]


@pytest.fixture
async def email_db() -> AsyncIterator[InfraSettings]:
    async with isolated_database(EMAIL_MODELS) as settings:
        yield settings


@pytest.fixture(scope="module")
async def sink() -> AsyncIterator[RunningSmtpSink]:
    async with running_smtp_sink() as running:
        yield running


@pytest.fixture
def inbox_cleared(sink: RunningSmtpSink) -> RunningSmtpSink:
    sink.inbox.clear()
    if not sink.running:
        sink.start()
    return sink


@pytest.fixture(scope="session")
def cipher() -> FieldCipher:
    return cipher_from(os.urandom(32), "k1")
