"""JSON logs, one object per line, with the request's ids and secrets masked by a filter."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

CONTEXT_FIELDS = ("requestId", "correlationId", "traceId")
OPTIONAL_FIELDS = ("userId", "paymentId", "orderId", "refundId", "eventId")

# Keys whose values are never written, whatever the caller binds.
SECRET_KEYS = re.compile(
    r"(secret|password|passwd|token|authorization|signature|api[_-]?key|cookie|"
    r"card|cvv|pan|encryption|x-client-secret)",
    re.IGNORECASE,
)
PII_KEYS = re.compile(r"(email|phone|mobile|address|customer_name|client_name)", re.IGNORECASE)

# Values that look like PII or secrets inside free text.
EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w])(\+?\d{2})\d{6,8}(\d{2})(?![\w])")
BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)

# What any of the four needs to match (an `@`, the word bearer, 10 digits in a row, 13 digits
# with separators): most text has none, and one search is cheaper than the four substitutions.
COULD_MASK = re.compile(r"@|bearer|\d{10}|(?:\d[ -]?){12}\d", re.IGNORECASE)

MASK = "***"


def mask_text(text: str) -> str:
    if not COULD_MASK.search(text):
        return text
    text = BEARER.sub(r"\1" + MASK, text)
    text = CARD.sub(MASK, text)
    text = EMAIL.sub(r"\1***@\2", text)
    return PHONE.sub(r"\1******\2", text)


@lru_cache(maxsize=1024)
def _key_kind(key: str) -> tuple[bool, bool]:
    """(secret, PII) for a key: keys repeat (log fields, header names), so each is read once."""
    return bool(SECRET_KEYS.search(key)), bool(PII_KEYS.search(key))


def mask_value(key: str, value: Any) -> Any:
    """Masks a bound value by its key, recursing into dicts and lists."""
    secret, pii = _key_kind(key)
    if secret:
        return MASK
    if isinstance(value, dict):
        return {str(k): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(key, item) for item in value]
    if pii and value is not None:
        return mask_text(str(value)) if "@" in str(value) else MASK
    if isinstance(value, str):
        return mask_text(value)
    return value


class JsonFormatter:
    def __init__(self, service: str, environment: str) -> None:
        self.service = service
        self.environment = environment

    def line(self, record: Record) -> str:
        extra = dict(record["extra"])
        entry: dict[str, Any] = {
            "timestamp": record["time"].astimezone(UTC).isoformat(timespec="milliseconds"),
            "level": record["level"].name.lower(),
            "message": mask_text(record["message"]),
            "service": self.service,
            "module": record["name"],
            "environment": self.environment,
        }
        for name in CONTEXT_FIELDS:
            entry[name] = extra.pop(name, None)
        for name in OPTIONAL_FIELDS:
            if name in extra:
                entry[name] = extra.pop(name)
        for key, value in extra.items():
            entry[key] = mask_value(key, value)
        if record["exception"] is not None:
            exc_type, exc_value, _ = record["exception"]
            entry["error"] = {
                "type": exc_type.__name__ if exc_type else None,
                "message": mask_text(str(exc_value)),
            }
        return json.dumps(entry, default=str, ensure_ascii=False)

    def sink(self, message: Any) -> None:
        sys.stdout.write(self.line(message.record) + "\n")
        sys.stdout.flush()


class InterceptHandler(logging.Handler):
    """Sends the standard library's records (uvicorn, aio-pika, pymongo) through loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info).bind(logger=record.name).log(
            level, record.getMessage()
        )


def configure_logging(service: str, environment: str, level: str = "INFO") -> None:
    """Replaces loguru's handlers with the JSON line sink (idempotent)."""
    formatter = JsonFormatter(service, environment)
    logger.remove()
    logger.add(formatter.sink, level=level, enqueue=False, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[InterceptHandler()], level=logging.WARNING, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = [InterceptHandler()]
        logging.getLogger(name).propagate = False


def utcnow() -> datetime:
    return datetime.now(UTC)
