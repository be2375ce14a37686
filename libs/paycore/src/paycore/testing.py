"""Helpers for tests against the real servers: isolated names per test run."""

from __future__ import annotations

import os
import uuid

from paycore.kit.service import InfraSettings


def unique_suffix() -> str:
    return uuid.uuid4().hex[:10]


def isolated_settings(**overrides: object) -> InfraSettings:
    """Settings pointing at the local servers (or MONGO_URI & co), with a database, queue
    prefix and Redis prefix of their own, and retry delays in milliseconds."""
    suffix = unique_suffix()
    values: dict[str, object] = {
        "app_env": "test",
        "mongo_db": f"test_{suffix}",
        "broker_prefix": f"test-{suffix}.",
        "redis_prefix": f"test:{suffix}:",
        "retry_delays_ms": [100, 200, 300],
        "outbox_poll_seconds": 0.05,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return InfraSettings(**values)  # type: ignore[arg-type]


def mongo_uri() -> str:
    return os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
