"""Screens a payment attempt: velocity per user, IP, email and device, repeated failures and
amount, against thresholds from settings. A review is allowed and flagged; a block is refused.
Every flag or block is stored as a `FraudSignal` whose outbox carries an analytics event and an
admin alert."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from loguru import logger
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from paycore.alerts import raise_alert
from paycore.fraud.errors import FraudBlocked
from paycore.fraud.models import FraudDecision, FraudSignal
from paycore.fraud.repository import FraudSignalRepository
from paycore.fraud.velocity import SlidingWindows
from paycore.kit.events import OutboxEvent
from paycore.kit.ids import new_id
from paycore.kit.metrics import series
from paycore.kit.redis import incident_start, redis_key
from paycore.kit.service import Resources
from paycore.payments.models import Payment

DECISIONS = Counter("paycore_fraud_decisions_total", "Fraud screening decisions.", ["decision"])

DIMENSIONS: Final = ("user", "ip", "email", "device")
FAILURE_DIMENSIONS: Final = ("user", "email")


@dataclass(frozen=True)
class Limit:
    review: int  # more than this many in the window: flag
    block: int  # more than this many: refuse


@dataclass(frozen=True)
class FraudThresholds:
    window_seconds: int = 600
    velocity: dict[str, Limit] = field(
        default_factory=lambda: {name: Limit(20, 60) for name in DIMENSIONS}
    )
    failure_window_seconds: int = 3600
    failures: Limit = Limit(3, 10)
    review_amount: int | None = None  # minor units; at or above it, flag


@dataclass(frozen=True)
class Attempt:
    """Who is paying. Identifiers are hashed before they reach Redis or the database."""

    user_id: str
    amount: int
    currency: str
    ip: str | None = None
    email_hash: str | None = None  # the keyed look-up hash of the customer email
    device: str | None = None  # the client's device fingerprint header
    payment_id: str | None = None


@dataclass(frozen=True)
class Assessment:
    decision: FraudDecision
    reasons: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    signal_id: str | None = None


class FraudScreen:
    def __init__(self, redis: Redis, thresholds: FraudThresholds, *, prefix: str = "") -> None:
        self.windows = SlidingWindows(redis, prefix)
        self.signals = FraudSignalRepository()
        self.thresholds = thresholds
        # IPs and device ids are hashed with a per-deployment salt so stored signals and Redis
        # keys never hold them in the clear.
        self._salt = hashlib.sha256(f"paycore-fraud:{prefix}".encode()).digest()

    def _hash(self, value: str) -> str:
        return hmac.new(self._salt, value.encode(), hashlib.sha256).hexdigest()[:32]

    def _subjects(self, attempt: Attempt) -> dict[str, str]:
        subjects = {"user": attempt.user_id}
        if attempt.ip:
            subjects["ip"] = self._hash(attempt.ip)
        if attempt.email_hash:
            subjects["email"] = attempt.email_hash
        if attempt.device:
            subjects["device"] = self._hash(attempt.device)
        return subjects

    async def screen(self, attempt: Attempt) -> Assessment:
        """Counts the attempt and decides; raises `FraudBlocked` on a block (after storing it)."""
        assessment = await self.assess(attempt)
        series(DECISIONS, assessment.decision.value).inc()
        if assessment.decision != FraudDecision.ALLOW:
            assessment = await self._store(attempt, assessment)
        if assessment.decision == FraudDecision.BLOCK:
            raise FraudBlocked(reasons=list(assessment.reasons), signal_id=assessment.signal_id)
        return assessment

    async def assess(self, attempt: Attempt) -> Assessment:
        subjects = self._subjects(attempt)
        reads: dict[str, str] = {
            name: subjects[name] for name in FAILURE_DIMENSIONS if name in subjects
        }
        limits = self.thresholds
        try:
            counts = await self.windows.hit_and_count(
                subjects,
                limits.window_seconds,
                reads=reads,
                read_window_seconds=limits.failure_window_seconds,
            )
        except RedisError as exc:
            # Screening is a second line of defence; an outage must not stop all payments.
            logger.warning("fraud screening unavailable; allowing", error=repr(exc))
            return Assessment(FraudDecision.ALLOW, ("screening_unavailable",))
        blocks: list[str] = []
        reviews: list[str] = []
        for name in subjects:
            limit = limits.velocity.get(name)
            if limit is None:
                continue
            if counts[name] > limit.block:
                blocks.append(f"{name}_velocity")
            elif counts[name] > limit.review:
                reviews.append(f"{name}_velocity")
        failures = max((counts[f"failures_{name}"] for name in reads), default=0)
        if failures >= limits.failures.block:
            blocks.append("repeated_failures")
        elif failures >= limits.failures.review:
            reviews.append("repeated_failures")
        if limits.review_amount is not None and attempt.amount >= limits.review_amount:
            reviews.append("high_amount")
        if blocks:
            return Assessment(FraudDecision.BLOCK, tuple(blocks + reviews), counts)
        if reviews:
            return Assessment(FraudDecision.REVIEW, tuple(reviews), counts)
        return Assessment(FraudDecision.ALLOW, (), counts)

    async def record_failure(self, user_id: str, email_hash: str | None) -> None:
        """A payment of this user (and customer email) failed: feeds the repeated-failure check."""
        subjects = {"user": user_id}
        if email_hash:
            subjects["email"] = email_hash
        try:
            await self.windows.hit("failures", subjects, self.thresholds.failure_window_seconds)
        except RedisError as exc:
            logger.warning("payment failure not counted", error=repr(exc))

    async def attempt_failed(self, payment: Payment) -> None:
        """`PaymentService.on_attempt_failed`: a failed attempt of this payment counts once."""
        await self.record_failure(payment.user_id, payment.customer.email_hash)

    async def _store(self, attempt: Attempt, assessment: Assessment) -> Assessment:
        signal_id = new_id("frd")
        data = {
            "signal_id": signal_id,
            "decision": assessment.decision.value,
            "reasons": list(assessment.reasons),
            "user_id": attempt.user_id,
            "payment_id": attempt.payment_id,
            "amount": attempt.amount,
            "currency": attempt.currency,
        }
        flagged = "blocked" if assessment.decision == FraudDecision.BLOCK else "flagged"
        signal = FraudSignal(
            signal_id=signal_id,
            decision=assessment.decision,
            reasons=list(assessment.reasons),
            counts=assessment.counts,
            user_id=attempt.user_id,
            payment_id=attempt.payment_id,
            amount=attempt.amount,
            currency=attempt.currency,
            ip_hash=self._hash(attempt.ip) if attempt.ip else None,
            email_hash=attempt.email_hash,
            device_hash=self._hash(attempt.device) if attempt.device else None,
            outbox=[OutboxEvent.of(f"analytics.fraud.{flagged}", data)],
        )
        await self.signals.insert(signal)
        # One alert per incident (user, decision and reasons, within a velocity window of its
        # first sighting), not one per request of it.
        reasons = "+".join(sorted(assessment.reasons))
        incident = f"{assessment.decision.value}:{attempt.user_id}:{reasons}"
        started = await incident_start(
            self.windows.redis,
            redis_key(self.windows.prefix, "fraud", "incident", incident),
            self.thresholds.window_seconds,
        )
        await raise_alert(
            f"fraud_{incident}:{started}",
            f"fraud_{assessment.decision.value}",
            "high" if assessment.decision == FraudDecision.BLOCK else "warning",
            **data,
        )
        logger.warning(
            "fraud signal",
            decision=assessment.decision.value,
            reasons=list(assessment.reasons),
            userId=attempt.user_id,
        )
        return Assessment(assessment.decision, assessment.reasons, assessment.counts, signal_id)


def failure_counter(
    resources: Resources, window_seconds: int, prefix: str
) -> Callable[[Payment], Awaitable[None]]:
    """`PaymentService.on_attempt_failed` for a service other than the payments-api (webhook
    processor, reconciler): counts a failed attempt in the repeated-failures window the
    payments-api screens with (`FRAUD_FAILURE_WINDOW_SECONDS`), through the service's Redis
    once it is connected."""
    thresholds = FraudThresholds(failure_window_seconds=window_seconds)

    async def count(payment: Payment) -> None:
        if resources.redis is not None:
            await FraudScreen(resources.redis, thresholds, prefix=prefix).attempt_failed(payment)

    return count
