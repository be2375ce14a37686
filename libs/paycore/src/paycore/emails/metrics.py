from prometheus_client import Counter

EMAILS = Counter(
    "paycore_emails_total",
    "Emails by type and outcome: sent, failed (an attempt; retried), skipped, duplicate.",
    ["type", "outcome"],
)
EMAILS_GIVEN_UP = Counter(
    "paycore_emails_dead_lettered_total",
    "Emails whose retries ran out: their event waits in the dead-letter queue for a replay.",
    ["type"],
)
