import asyncio

import pytest
from paycore.audit.models import Actor, AuditRecord
from paycore.audit.trail import AuditTrail

pytestmark = pytest.mark.usefixtures("domain_db")

ACTOR = Actor(kind="user", id="usr_1", ip="127.0.0.1", user_agent="test")


async def test_concurrent_appends_form_one_unbroken_chain() -> None:
    trail = AuditTrail()
    await asyncio.gather(
        *(
            trail.append(ACTOR, "payment.create", "payment", f"pay_{i}", after={"amount": i})
            for i in range(15)
        )
    )
    intact, checked = await trail.verify_chain()
    assert (intact, checked) == (True, 15)


async def test_a_changed_record_breaks_the_chain() -> None:
    trail = AuditTrail()
    for i in range(3):
        await trail.append(ACTOR, "refund.initiate", "refund", f"rfd_{i}", after={"amount": 100})
    await AuditRecord.get_pymongo_collection().update_one(
        {"seq": 2}, {"$set": {"after": {"amount": 999}}}
    )
    intact, checked = await trail.verify_chain()
    assert (intact, checked) == (False, 2)
