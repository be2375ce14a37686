"""`python -m reconciler.audit history` as an operator runs it: a separate process."""

import os
import subprocess
import sys

from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail
from paycore.kit.service import InfraSettings


def history(settings: InfraSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "APP_ENV": "test", "MONGO_DB": settings.mongo_db}
    env.update(CASHFREE_APP_ID="x", CASHFREE_SECRET_KEY="x")  # required, not used here
    return subprocess.run(
        [sys.executable, "-m", "reconciler.audit", "history", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_history_prints_the_records_or_says_how_to_name_the_resource(
    database: InfraSettings,
) -> None:
    actor = Actor(kind="user", id="usr_demo")
    key = "usr_demo:INV-7"
    trail = AuditTrail()
    await trail.repository.database["invoices"].insert_one({"_id": key})  # audited: it exists
    await trail.append(actor, "invoice.paid", "invoice", key, after={"status": "PAID"})

    found = history(database, "invoice", key)
    assert found.returncode == 0, found.stderr
    assert '"action": "invoice.paid"' in found.stdout

    # The invoice number alone is not its id: the operator is told what to type instead.
    missing = history(database, "invoice", "INV-7")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert "no audit records for invoice INV-7" in missing.stderr
    assert "<user id>:<invoice number>" in missing.stderr
