"""The webhook ingress against the real MongoDB, Redis and RabbitMQ."""

import asyncio
import hashlib
import time

import httpx
import pytest
from ingress_support import (
    PATH,
    SECRET,
    Ingress,
    as_json,
    ingress_settings,
    payment_body,
    signed_headers,
    start_ingress,
)
from loguru import logger
from paycore.gateway import verify_webhook_signature
from paycore.kit.crypto import cipher_for
from paycore.kit.mongo import connect_mongo
from paycore.testing import eventually
from paycore.webhooks.models import BodySealed, WebhookLog, WebhookStatus
from prometheus_client import REGISTRY
from webhook_ingress.app import build_app
from webhook_ingress.routes import Accepted


def received(result: str) -> float:
    return REGISTRY.get_sample_value("paycore_webhooks_received_total", {"result": result}) or 0.0


class TestAccept:
    async def test_stores_the_body_exactly_as_received_and_publishes_its_log_id(
        self, ingress: Ingress
    ) -> None:
        # Odd but valid JSON: spacing, key order and "100.00" must survive byte for byte.
        body = payment_body(amount="100.00").replace(b'"data":', b'"data" :  ')
        headers = signed_headers(body, idempotency_key="idem-key-1")
        before = received("accepted")

        answer = await ingress.post(body, headers)

        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"
        [log] = await ingress.logs()
        documented = Accepted(status="accepted", log_id=log.log_id)
        assert answer.json() == documented.model_dump(mode="json", by_alias=True)
        assert log.raw_body(cipher_for(ingress.settings)) == body
        assert log.body_sha256 == hashlib.sha256(body).hexdigest()
        assert log.event_id == "idem-key-1"
        assert log.event_type == "PAYMENT_SUCCESS_WEBHOOK"
        assert log.webhook_version == "2025-01-01"
        assert log.status == WebhookStatus.RECEIVED
        assert log.signature == headers["x-webhook-signature"]
        assert log.timestamp == headers["x-webhook-timestamp"]
        assert log.delivery_attempt == 1
        assert "x-webhook-signature" not in {h.name for h in log.headers}
        [event] = await ingress.drain()
        assert event.type == "webhook.cashfree.received"
        assert event.data["log_id"] == log.log_id
        assert received("accepted") == before + 1

    async def test_the_published_event_leaves_the_outbox_after_the_answer(
        self, ingress: Ingress
    ) -> None:
        # The 200 needs the insert and the confirm only; the removal follows, shared.
        bodies = [payment_body(order_id=f"order-{n}") for n in range(5)]
        answers = await asyncio.gather(*(ingress.post(b, signed_headers(b)) for b in bodies))
        assert [a.status_code for a in answers] == [200] * 5
        logs = await ingress.logs()
        assert len(logs) == 5

        async def all_removed() -> bool:
            return all(log.outbox == [] for log in await ingress.logs())

        await eventually(all_removed, timeout=5)
        assert len(await ingress.drain()) == 5

    async def test_the_stored_body_holds_no_customer_contact_in_the_clear(
        self, ingress: Ingress
    ) -> None:
        body = payment_body().replace(
            b'"data":{',
            b'"data":{"customer_details":{"customer_name":"Asha Rao",'
            b'"customer_email":"asha.rao@example.com","customer_phone":"9876501234"},',
        )
        headers = signed_headers(body)
        assert (await ingress.post(body, headers)).status_code == 200
        stored = await WebhookLog.get_pymongo_collection().find_one({})
        text = str(stored)
        for secret in ("asha.rao@example.com", "9876501234", "Asha Rao"):
            assert secret not in text
        # Hash and signature stay in the clear: the opened body still verifies against them.
        [log] = await ingress.logs()
        opened = log.raw_body(cipher_for(ingress.settings))
        assert hashlib.sha256(opened).hexdigest() == log.body_sha256
        verify_webhook_signature(
            opened, log.signature, log.timestamp, [SECRET], tolerance_ms=300_000
        )
        with pytest.raises(BodySealed):
            log.raw_body()

    async def test_without_an_idempotency_key_the_body_hash_is_the_event_id(
        self, ingress: Ingress
    ) -> None:
        body = payment_body()
        assert (await ingress.post(body, signed_headers(body))).status_code == 200
        [log] = await ingress.logs()
        assert log.event_id == "sha256:" + hashlib.sha256(body).hexdigest()

    @pytest.mark.parametrize("path", ["/api/webhook/cashfree", "/api/cashfree/webhook"])
    async def test_the_node_integration_paths_are_aliases(
        self, ingress: Ingress, path: str
    ) -> None:
        body = payment_body()
        assert (await ingress.post(body, signed_headers(body), path=path)).status_code == 200
        assert len(await ingress.logs()) == 1

    async def test_a_webhook_signed_with_the_previous_secret_is_accepted(
        self, ingress: Ingress
    ) -> None:
        body = payment_body()
        answer = await ingress.post(body, signed_headers(body, secret=b"whsec_old"))
        assert answer.status_code == 200


class TestDuplicates:
    async def test_a_repeat_answers_200_and_publishes_nothing_new(self, ingress: Ingress) -> None:
        body = payment_body()
        first = await ingress.post(body, signed_headers(body, idempotency_key="k1"))
        before = received("duplicate")
        # Cashfree's retry: same payload and key, a new timestamp and signature.
        again = await ingress.post(body, signed_headers(body, idempotency_key="k1"))

        assert first.json()["status"] == "accepted"
        assert again.status_code == 200
        assert again.json()["status"] == "duplicate"
        assert len(await ingress.logs()) == 1
        assert len(await ingress.drain()) == 1
        assert received("duplicate") == before + 1

    async def test_fifty_concurrent_copies_store_and_publish_one(self, ingress: Ingress) -> None:
        body = payment_body()
        answers = await asyncio.gather(
            *(ingress.post(body, signed_headers(body, idempotency_key="k2")) for _ in range(50))
        )
        assert {a.status_code for a in answers} == {200}
        assert sorted(a.json()["status"] for a in answers).count("accepted") == 1
        assert len(await ingress.logs()) == 1
        await asyncio.sleep(0.2)
        assert len(await ingress.drain()) == 1


class TestOutsideTheWindow:
    async def test_a_signed_webhook_outside_the_window_is_kept_for_confirmation(
        self, ingress: Ingress
    ) -> None:
        # Cashfree retries for ~40 minutes (longer with custom policies and batch resends):
        # a genuine late retry is kept, never dropped; the processor confirms it.
        body = payment_body()
        forty_minutes_ago = time.time_ns() // 1_000_000 - 40 * 60 * 1000
        headers = signed_headers(body, timestamp_ms=forty_minutes_ago, idempotency_key="late-1")
        before = received("out_of_window")

        answer = await ingress.post(body, headers)

        assert answer.status_code == 200, answer.text
        [log] = await ingress.logs()
        assert log.out_of_window
        assert received("out_of_window") == before + 1
        [event] = await ingress.drain()
        assert event.data["log_id"] == log.log_id
        # The durable dedupe by event id is what blocks a replay.
        again = await ingress.post(body, headers)
        assert again.json()["status"] == "duplicate"
        assert len(await ingress.logs()) == 1

    async def test_a_trailing_slash_answers_like_the_path_never_a_redirect(
        self, ingress: Ingress
    ) -> None:
        body = payment_body()
        answer = await ingress.post(body, signed_headers(body), path=PATH + "/")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"
        assert len(await ingress.logs()) == 1


class TestRejections:
    async def expect_rejected(
        self, ingress: Ingress, body: bytes, headers: dict[str, str], status: int, result: str
    ) -> dict[str, object]:
        before = received(result)
        answer = await ingress.post(body, headers)
        assert answer.status_code == status, answer.text
        assert received(result) == before + 1
        assert await ingress.logs() == []
        assert await ingress.drain() == []
        return as_json(answer.content)

    async def test_a_forged_signature_is_401(self, ingress: Ingress) -> None:
        body = payment_body()
        headers = signed_headers(body, secret=b"not-our-secret")
        answer = await self.expect_rejected(ingress, body, headers, 401, "invalid_signature")
        assert answer["error"]["code"] == "webhook_signature_invalid"  # type: ignore[index]

    async def test_a_body_changed_after_signing_is_401(self, ingress: Ingress) -> None:
        headers = signed_headers(payment_body(amount="1.00"))
        await self.expect_rejected(
            ingress, payment_body(amount="100.00"), headers, 401, "invalid_signature"
        )

    async def test_a_stale_timestamp_with_a_forged_signature_is_401(self, ingress: Ingress) -> None:
        body = payment_body()
        six_minutes_ago = time.time_ns() // 1_000_000 - 6 * 60 * 1000
        headers = signed_headers(body, timestamp_ms=six_minutes_ago, secret=b"not-our-secret")
        await self.expect_rejected(ingress, body, headers, 401, "invalid_signature")

    @pytest.mark.parametrize("missing", ["x-webhook-signature", "x-webhook-timestamp"])
    async def test_a_missing_header_is_400(self, ingress: Ingress, missing: str) -> None:
        body = payment_body()
        headers = signed_headers(body)
        del headers[missing]
        await self.expect_rejected(ingress, body, headers, 400, "malformed")

    async def test_an_oversized_body_is_413(self) -> None:
        async for ingress in start_ingress(ingress_settings(webhook_max_body_bytes=1024)):
            body = payment_body().replace(b'"INR"}', b'"INR","pad":"' + b"x" * 2000 + b'"}', 1)
            await self.expect_rejected(ingress, body, signed_headers(body), 413, "malformed")

    async def test_a_signed_body_that_is_not_json_is_400(self, ingress: Ingress) -> None:
        body = b"order_id=ord_1&status=SUCCESS"
        await self.expect_rejected(ingress, body, signed_headers(body), 400, "malformed")

    async def test_a_signed_body_nested_too_deep_to_parse_is_400(self, ingress: Ingress) -> None:
        body = b'{"data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"  # RecursionError, not 500
        await self.expect_rejected(ingress, body, signed_headers(body), 400, "malformed")

    async def test_a_non_json_content_type_is_415(self, ingress: Ingress) -> None:
        body = payment_body()
        headers = signed_headers(body) | {"content-type": "text/plain"}
        await self.expect_rejected(ingress, body, headers, 415, "malformed")


async def test_the_public_app_serves_only_webhooks_health_metrics_and_its_document(
    ingress: Ingress,
) -> None:
    paths = {getattr(route, "path", None) for route in ingress.app.routes}
    assert PATH in paths
    assert "/metrics" in paths
    assert "/openapi.json" in paths
    assert all(p.startswith(("/api/", "/health", "/metrics", "/openapi.json")) for p in paths if p)
    metrics = await ingress.client.get("/metrics")
    assert "paycore_webhooks_received_total" in metrics.text


async def test_logs_name_the_real_caller_not_a_spoofed_forwarded_for() -> None:
    # The same client-address rule as payments-api: behind one trusted proxy, the address it
    # appended counts; what the caller put in X-Forwarded-For itself does not.
    lines: list[dict[str, object]] = []
    handler = logger.add(lambda message: lines.append(dict(message.record["extra"])))
    try:
        async for proxied in start_ingress(ingress_settings(trusted_proxies="127.0.0.1")):
            body = payment_body()
            forged = {**signed_headers(body), "x-webhook-signature": "forged"}
            spoofed = {"x-forwarded-for": "52.66.101.190, 203.0.113.50"}
            answer = await proxied.post(body, forged | spoofed)
            assert answer.status_code == 401
    finally:
        logger.remove(handler)
    addresses = {line.get("clientIp") for line in lines if "clientIp" in line}
    assert addresses == {"203.0.113.50"}


async def test_a_stopping_ingress_finishes_its_pending_removals() -> None:
    settings = ingress_settings(outbox_grace_seconds=30)  # removals linger 0.2 s
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
            body = payment_body()
            assert (await client.post(PATH, content=body, headers=signed_headers(body))).is_success
    # Stopped within the linger: the removal was written before the database closed.
    client = await connect_mongo(settings, [WebhookLog])
    try:
        [log] = [raw async for raw in WebhookLog.get_pymongo_collection().find({})]
        assert log["outbox"] == []
    finally:
        await client.drop_database(settings.mongo_db)
        await client.close()
