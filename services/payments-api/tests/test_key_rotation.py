"""Rotating the PII key on a populated database: old values still open, look-ups still find,
and `payments_api.rekey` moves everything to the new key so the old one can be dropped."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from cashfree_emulator.testing import RunningEmulator
from paycore.kit.crypto import Sealed, UnknownKey, cipher_for
from paycore.kit.settings import EncryptionSettings
from paycore.webhooks.models import BODY_CONTEXT
from payments_api.app import build_app
from payments_api.rekey import RekeySettings, rekey_all
from payments_api_testing import ApiClient, api_client, api_settings, new_key, new_user
from pydantic import ValidationError
from test_invoices import INVOICES, invoice_body, number

OLD_KEY = base64.b64encode(os.urandom(32)).decode()
NEW_KEY = base64.b64encode(os.urandom(32)).decode()
LOOKUP_KEY = base64.b64encode(os.urandom(32)).decode()


@asynccontextmanager
async def same_database(
    first: ApiClient, emu: RunningEmulator, **keys: Any
) -> AsyncIterator[ApiClient]:
    """Another deployment of the app over `first`'s database, Redis and broker prefix."""
    isolation = {
        name: getattr(first.settings, name)
        for name in ("mongo_db", "redis_prefix", "broker_prefix")
    }
    settings = api_settings(emu, **isolation, **keys)
    app = build_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield ApiClient(http, app, settings)


def sealed_values(part: dict[str, Any]) -> list[dict[str, Any]]:
    return [value for value in part.values() if isinstance(value, dict) and "key_id" in value]


async def sealed_key_ids(api: ApiClient) -> set[str]:
    database = api.app.state.api.resources.mongo[api.settings.mongo_db]
    ids = set()
    async for invoice in database["invoices"].find({}):
        ids |= {value["key_id"] for value in sealed_values(invoice["client"])}
    async for payment in database["payments"].find({}):
        ids |= {value["key_id"] for value in sealed_values(payment["customer"])}
    async for log in database["webhook_logs"].find({}):
        ids |= {value["key_id"] for value in sealed_values(log)} | (
            {"plain"} if log["body"] else set()
        )
    return ids


async def test_rotation_keeps_every_value_readable_and_findable(emu: RunningEmulator) -> None:
    email = f"{new_key()[:8]}@client.example"
    user, unpaid, paid_later = new_user(), number(), number()
    async with api_client(
        emu, payment_encryption_key=OLD_KEY, payment_lookup_key=LOOKUP_KEY
    ) as before:
        for invoice_number in (unpaid, paid_later):
            body = invoice_body(
                invoice_number,
                client={"name": "C", "email": email, "phone": "9123456780", "address": "1 Road"},
            )
            created = await before.http.post(
                INVOICES, json=body, headers=before.headers(user, key=new_key())
            )
            assert created.status_code == 201, created.text
        assert (await before.create_payment(user)).status_code == 201

        rotated = {
            "payment_encryption_key": NEW_KEY,
            "payment_encryption_key_id": "k2",
            "payment_encryption_old_keys": f"k1:{OLD_KEY}",
            "payment_lookup_key": LOOKUP_KEY,
        }
        async with same_database(before, emu, **rotated) as after:
            # Findable: the look-up hash did not move with the encryption key.
            found = await after.http.get(
                f"{INVOICES}?client_email={email}", headers=after.headers("ops", "admin")
            )
            assert {i["invoice_number"] for i in found.json()["data"]["items"]} == {
                unpaid,
                paid_later,
            }
            # Readable: paying opens the client's contact details sealed with the old key.
            paid = await after.http.post(
                f"{INVOICES}/{paid_later}/pay", headers=after.headers(user, key=new_key())
            )
            assert paid.status_code == 201, paid.text
            assert await sealed_key_ids(after) == {"k1", "k2"}  # a new payment: new key

            # A webhook stored in the clear before bodies were sealed, and one sealed with k1.
            webhook_logs = after.app.state.api.resources.mongo[after.settings.mongo_db][
                "webhook_logs"
            ]
            old_cipher = cipher_for(before.settings)
            await webhook_logs.insert_many(
                [
                    {
                        "_id": "whk_plain",
                        "body": '{"customer_email":"a@b.example"}',
                        "sealed_body": None,
                    },
                    {
                        "_id": "whk_k1",
                        "body": "",
                        "sealed_body": old_cipher.seal("{}", BODY_CONTEXT).model_dump(),
                    },
                ]
            )
            assert await sealed_key_ids(after) == {"k1", "k2", "plain"}

            settings = RekeySettings(**after.settings.model_dump())
            reports = await rekey_all(settings, batch_size=2)
            assert sum(report.values for report in reports) > 0
            assert not any(report.conflicts for report in reports)
            assert await sealed_key_ids(after) == {"k2"}
            resealed = await webhook_logs.find_one({"_id": "whk_plain"})
            assert (
                cipher_for(after.settings).open(
                    Sealed.model_validate(resealed["sealed_body"]), BODY_CONTEXT
                )
                == '{"customer_email":"a@b.example"}'
            )
            again = await rekey_all(settings)
            assert sum(report.resealed for report in again) == 0

        # The old key is gone from the ring: everything still opens and is still found.
        only_new = {**rotated, "payment_encryption_old_keys": ""}
        async with same_database(before, emu, **only_new) as dropped:
            found = await dropped.http.get(
                f"{INVOICES}?client_email={email.upper()}", headers=dropped.headers("ops", "admin")
            )
            assert len(found.json()["data"]["items"]) == 2
            paid = await dropped.http.post(
                f"{INVOICES}/{unpaid}/pay", headers=dropped.headers(user, key=new_key())
            )
            assert paid.status_code == 201, paid.text


def test_an_old_key_without_a_lookup_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="PAYMENT_LOOKUP_KEY is required"):
        EncryptionSettings(
            payment_encryption_key=NEW_KEY,  # type: ignore[arg-type]
            payment_encryption_key_id="k2",
            payment_encryption_old_keys=f"k1:{OLD_KEY}",  # type: ignore[arg-type]
        )


def test_a_value_sealed_with_a_dropped_key_says_which_key_is_missing() -> None:
    settings = EncryptionSettings(payment_encryption_key=NEW_KEY)  # type: ignore[arg-type]
    sealed = Sealed(key_id="k0", nonce="", ciphertext="")
    with pytest.raises(UnknownKey, match="k0"):
        cipher_for(settings).open(sealed, "customer.email")
