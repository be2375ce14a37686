"""Stored credentials: API keys (hash only; see `paycore.auth.api_keys`)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field
from pymongo import ASCENDING, IndexModel

from paycore.auth.tokens import Scope
from paycore.kit.mongo import KeyedDocument


class ApiKey(KeyedDocument):
    key_field = "key_id"

    key_id: str  # public: 16 hex characters
    secret_sha256: str
    user_id: str  # who the key acts for
    scopes: list[Scope]
    name: str  # what the merchant calls it ("ERP sync")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "api_keys"
        indexes = [IndexModel([("user_id", ASCENDING)], name="user_id")]
