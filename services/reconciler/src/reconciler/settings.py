from paycore.kit.service import InfraSettings
from paycore.kit.settings import CashfreeSettings
from pydantic import Field


class Settings(InfraSettings, CashfreeSettings):
    service_name: str = "reconciler"
    port: int = 9104
    # Janitor: every interval, the payments due for a check (each on its own backoff,
    # paycore.kit.recheck), then reservations untouched this long are repaired.
    janitor_interval_seconds: float = Field(default=60, gt=0)
    orphan_reservation_seconds: float = Field(default=900, gt=0)
    # Reconciliation: every interval, the windows that are due (each hour an hour after it
    # ended, each day an hour after it ended; paycore.reconciliation.windows).
    reconcile_interval_seconds: float = Field(default=300, gt=0)
    # How long after capture a payment's settlement may take before it is a break, per
    # payment method (as the payment records it: upi, card, netbanking...).
    settlement_sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"upi": 48.0, "card": 72.0, "netbanking": 72.0}
    )
    default_settlement_sla_hours: float = Field(default=72, gt=0)
    failure_spike_per_minute: int = Field(default=20, ge=1)
    # The payments-api's repeated-failures window (FRAUD_FAILURE_WINDOW_SECONDS): a failed
    # attempt the janitor finds counts there too.
    fraud_failure_window_seconds: int = Field(default=3600, gt=0)
    # Stored webhooks (their sealed bodies name customers) are kept this long once final;
    # dead-lettered ones stay until an operator acts. Longer than Cashfree's retries, whose
    # late copies would otherwise no longer be recognised as duplicates.
    webhook_log_retention_days: int = Field(default=90, ge=7)
    retention_interval_seconds: float = Field(default=3600, gt=0)
    # Money invariants (refunded <= captured, no reservation stuck past this).
    invariants_interval_seconds: float = Field(default=300, gt=0)
    reservation_stuck_seconds: float = Field(default=3600, gt=0)
    # Queues: every consumer queue's depth and consumers, every QUEUE_REPORT_SECONDS; a work
    # queue holding this many messages raises the queue-overload admin alert (once an hour
    # per queue; PaycoreQueueBacklog uses the same figure).
    queue_overload_messages: int = Field(default=1000, ge=1)
    # Audit: move entries a crash left pending, then verify every chain.
    audit_verify_interval_seconds: float = Field(default=3600, gt=0)
    # Each job's lock expires this long after its holder last extended it (every third of
    # it): how long a killed replica keeps the others from running the job, the queue watch
    # included. Short, so a crash does not blind the backlog alert for a minute.
    job_lock_seconds: float = Field(default=15, gt=0)
