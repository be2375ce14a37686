"""schemathesis over the payments-api's /openapi.json, against the running service (the chaos
stack): every operation, a bounded number of generated requests each, with a valid bearer token
of every scope and a generated Idempotency-Key. Passes only with no server error (5xx) and every
answer matching the document (status codes, content types, bodies)."""

from collections import Counter
from typing import Any

import schemathesis
from chaos_support import Report, Stack
from hypothesis import HealthCheck, settings
from paycore.auth.tokens import Scope, mint_token
from payments_api.openapi import build_document
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# The document the service serves at /openapi.json, built in-process so tests can be collected
# before the service runs (test_openapi.py checks the served one is the same).
schema = schemathesis.openapi.from_dict(build_document())
STATUSES: Counter[int] = Counter()
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzz_payments_api(case: Any, stack: Stack) -> None:
    token = mint_token(
        stack.env["JWT_SECRET"], "fuzz-merchant", list(Scope), issuer="paycore", ttl_seconds=3600
    )
    response = case.call_and_validate(
        base_url=stack.url("payments-api"),
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
        timeout=30,
    )
    STATUSES[response.status_code] += 1


def test_fuzz_summary(report: Report) -> None:
    """Counts what the fuzzing above sent (runs after it, in file order)."""
    report.counts.update(requests=STATUSES.total(), statuses=dict(sorted(STATUSES.items())))
    assert all(status < 500 for status in STATUSES)
