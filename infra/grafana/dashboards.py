"""Writes the per-area Grafana dashboards (infra/grafana/dashboards/paycore-<area>.json) from the
panel lists below: one layout and datasource for all, so they stay alike. The overview is kept
by hand. Run `uv run python infra/grafana/dashboards.py` after editing; the deploy checks fail
when a file differs from what this writes. Every query is checked against a running system's
scrape by tests-e2e/test_operational_truth.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
R = "[$__rate_interval]"

# area -> (title, [(panel title, unit, [(expr, legend)])])
AREAS: dict[str, tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = {
    "payments": (
        "paycore payments",
        [
            (
                "Payment outcomes by status",
                "ops",
                [(f"sum by (status) (rate(paycore_payments_total{R}))", "{{status}}")],
            ),
            (
                "Payment outcomes by method",
                "ops",
                [
                    (
                        f"sum by (method, status) (rate(paycore_payments_total{R}))",
                        "{{method}} {{status}}",
                    )
                ],
            ),
            (
                "Payment attempts by outcome and method",
                "ops",
                [
                    (
                        f"sum by (outcome, method) (rate(paycore_payment_attempts_total{R}))",
                        "{{method}} {{outcome}}",
                    )
                ],
            ),
            (
                "Success and failure rate (15 min)",
                "percentunit",
                [
                    ("paycore:payments_success:ratio_rate15m", "success"),
                    ("paycore:payments_failure:ratio_rate15m", "failure"),
                ],
            ),
            (
                "Fraud decisions",
                "ops",
                [(f"sum by (decision) (rate(paycore_fraud_decisions_total{R}))", "{{decision}}")],
            ),
            (
                "Cashfree calls by operation and outcome",
                "ops",
                [
                    (
                        f"sum by (operation, outcome) (rate(paycore_gateway_calls_total{R}))",
                        "{{operation}} {{outcome}}",
                    )
                ],
            ),
            (
                "Cashfree call latency p95",
                "s",
                [
                    (
                        f"histogram_quantile(0.95, sum by (operation, le) (rate(paycore_gateway_call_duration_seconds_bucket{R})))",
                        "{{operation}}",
                    )
                ],
            ),
            (
                "API latency p95 by route (payments-api)",
                "s",
                [
                    (
                        f'histogram_quantile(0.95, sum by (route, le) (rate(paycore_http_request_duration_seconds_bucket{{service="payments-api",route!~"/health.*|/metrics"}}{R})))',
                        "{{route}}",
                    )
                ],
            ),
            (
                "Idempotency look-ups",
                "ops",
                [(f"sum by (outcome) (rate(paycore_idempotency_total{R}))", "{{outcome}}")],
            ),
        ],
    ),
    "webhooks": (
        "paycore webhooks",
        [
            (
                "Webhooks received by result",
                "ops",
                [(f"sum by (result) (rate(paycore_webhooks_received_total{R}))", "{{result}}")],
            ),
            (
                "Webhooks processed by family and outcome",
                "ops",
                [
                    (
                        f"sum by (family, outcome) (rate(paycore_webhooks_processed_total{R}))",
                        "{{family}} {{outcome}}",
                    )
                ],
            ),
            (
                "Webhook processing latency (receipt to applied)",
                "s",
                [
                    (
                        f"histogram_quantile(0.5, sum by (le) (rate(paycore_webhook_processing_seconds_bucket{R})))",
                        "p50",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (le) (rate(paycore_webhook_processing_seconds_bucket{R})))",
                        "p99",
                    ),
                ],
            ),
            (
                "Webhook retries and dead letters",
                "ops",
                [
                    (
                        f"sum by (attempt) (rate(paycore_webhook_retries_total{R}))",
                        "retry {{attempt}}",
                    ),
                    (
                        f"sum by (reason) (rate(paycore_webhooks_dead_lettered_total{R}))",
                        "dead-lettered {{reason}}",
                    ),
                ],
            ),
        ],
    ),
    "queues": (
        "paycore queues",
        [
            (
                "Messages waiting by queue",
                "short",
                [("max by (queue) (paycore_queue_messages)", "{{queue}}")],
            ),
            (
                "Dead-letter queue depth",
                "short",
                [("max by (queue) (paycore_dead_letter_messages)", "{{queue}}")],
            ),
            (
                "Consumers per work queue",
                "short",
                [('max by (queue) (paycore_queue_consumers{kind="work"})', "{{queue}}")],
            ),
            (
                "Messages handled by outcome",
                "ops",
                [
                    (
                        f"sum by (queue, outcome) (rate(paycore_messages_handled_total{R}))",
                        "{{queue}} {{outcome}}",
                    )
                ],
            ),
            (
                "Consumer retries by queue and attempt",
                "ops",
                [
                    (
                        f"sum by (queue, attempt) (rate(paycore_consumer_retries_total{R}))",
                        "{{queue}} #{{attempt}}",
                    )
                ],
            ),
            (
                "Dead-lettered by queue and reason",
                "ops",
                [
                    (
                        f"sum by (queue, reason) (rate(paycore_dead_lettered_total{R}))",
                        "{{queue}} {{reason}}",
                    )
                ],
            ),
            (
                "Outbox: oldest waiting event",
                "s",
                [
                    (
                        "max by (collection) (paycore_outbox_oldest_event_age_seconds)",
                        "{{collection}}",
                    )
                ],
            ),
            (
                "Outbox: published and failed",
                "ops",
                [
                    (
                        f"sum by (collection, path) (rate(paycore_outbox_published_total{R}))",
                        "{{collection}} {{path}}",
                    ),
                    (
                        f"sum by (collection) (rate(paycore_outbox_failures_total{R}))",
                        "{{collection}} failed",
                    ),
                ],
            ),
            (
                "RabbitMQ messages ready / unacked",
                "short",
                [
                    ("sum(rabbitmq_queue_messages_ready)", "ready"),
                    ("sum(rabbitmq_queue_messages_unacked)", "unacked"),
                ],
            ),
        ],
    ),
    "refunds": (
        "paycore refunds",
        [
            (
                "Refunds finished by status",
                "ops",
                [(f"sum by (status) (rate(paycore_refunds_total{R}))", "{{status}}")],
            ),
            (
                "Refund duration (request to final status)",
                "s",
                [
                    (
                        f"histogram_quantile(0.5, sum by (le) (rate(paycore_refund_duration_seconds_bucket{R})))",
                        "p50",
                    ),
                    (
                        f"histogram_quantile(0.95, sum by (le) (rate(paycore_refund_duration_seconds_bucket{R})))",
                        "p95",
                    ),
                ],
            ),
            (
                "Money invariants broken",
                "short",
                [("max by (kind) (paycore_money_invariant_violations)", "{{kind}}")],
            ),
            (
                "Refund queue depth",
                "short",
                [
                    (
                        'max by (queue) (paycore_queue_messages{queue=~"refund-worker.*"})',
                        "{{queue}}",
                    )
                ],
            ),
        ],
    ),
    "emails": (
        "paycore emails",
        [
            (
                "Emails by type and outcome",
                "ops",
                [
                    (
                        f"sum by (type, outcome) (rate(paycore_emails_total{R}))",
                        "{{type}} {{outcome}}",
                    )
                ],
            ),
            (
                "Emails given up (dead-lettered)",
                "ops",
                [(f"sum by (type) (rate(paycore_emails_dead_lettered_total{R}))", "{{type}}")],
            ),
            (
                "Email queue depth",
                "short",
                [('max by (queue) (paycore_queue_messages{queue=~"email-worker.*"})', "{{queue}}")],
            ),
        ],
    ),
    "reconciliation": (
        "paycore reconciliation",
        [
            (
                "Reconciliation mismatches (per hour) by kind",
                "short",
                [
                    (
                        "sum by (kind) (increase(paycore_reconciliation_mismatches_total[1h]))",
                        "{{kind}}",
                    )
                ],
            ),
            (
                "Janitor transitions",
                "short",
                [
                    (
                        "sum by (status) (increase(paycore_janitor_transitions_total[1h]))",
                        "{{status}}",
                    )
                ],
            ),
            (
                "Seconds since each job last succeeded",
                "s",
                [
                    (
                        "time() - max by (task) (paycore_job_last_success_timestamp_seconds)",
                        "{{task}}",
                    )
                ],
            ),
            (
                "Job runs by outcome",
                "ops",
                [
                    (
                        f"sum by (task, outcome) (rate(paycore_job_runs_total{R}))",
                        "{{task}} {{outcome}}",
                    )
                ],
            ),
            (
                "Disputes open",
                "short",
                [("max(paycore_disputes_open)", "open")],
            ),
            (
                "Audit chains broken / records verified",
                "short",
                [
                    ("max(paycore_audit_chain_breaks)", "broken chains"),
                    ("max(paycore_audit_records_verified)", "records verified"),
                ],
            ),
        ],
    ),
}


def panel(panel_id: int, title: str, unit: str, queries: list[tuple[str, str]]) -> dict[str, Any]:
    index = panel_id - 1
    return {
        "type": "timeseries",
        "id": panel_id,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
            }
            for n, (expr, legend) in enumerate(queries)
        ],
    }


def dashboard(area: str) -> dict[str, Any]:
    title, panels = AREAS[area]
    return {
        "uid": f"paycore-{area}",
        "title": title,
        "tags": ["paycore"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "panels": [panel(n, *spec) for n, spec in enumerate(panels, start=1)],
    }


def render(area: str) -> str:
    return json.dumps(dashboard(area), indent=2) + "\n"


def main() -> None:
    for area in AREAS:
        (OUT / f"paycore-{area}.json").write_text(render(area))


if __name__ == "__main__":
    main()
