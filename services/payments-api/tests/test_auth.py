"""Who may call: API keys (issued and revoked by the admin command) and an identity
provider's JWTs verified through its JWKS, next to the development HS256 tokens."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cashfree_emulator.testing import RunningEmulator
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from paycore.auth.models import ApiKey
from paycore.testing import run_module
from payments_api_testing import ApiClient, api_client, new_user

HISTORY = "/api/v1/payments/history"
ISSUER = "https://idp.example/"
AUDIENCE = "paycore-api"


def admin_command(api: ApiClient, *args: str) -> str:
    env = {**os.environ, "MONGO_URI": api.settings.mongo_uri, "MONGO_DB": api.settings.mongo_db}
    return run_module("payments_api.api_keys", *args, env=env)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class TestApiKeys:
    async def test_an_issued_key_authenticates_until_it_is_revoked(self, api: ApiClient) -> None:
        user = new_user()
        printed = admin_command(api, "issue", "--user", user, "--scopes", "read", "--name", "ERP")
        [key] = [line for line in printed.splitlines() if line.startswith("pck_")]
        key_id = key.removeprefix("pck_").split(".")[0]

        allowed = await api.http.get(HISTORY, headers=bearer(key))
        assert allowed.status_code == 200, allowed.text
        # The key carries its scopes: read only.
        write = await api.http.post(
            "/api/v1/payments/create",
            json={"amount": 100, "customer": {"phone": "9876543210"}},
            headers={**bearer(key), "idempotency-key": "k1"},
        )
        assert write.status_code == 403
        stored = await ApiKey.get(key_id)
        assert stored is not None
        assert stored.last_used_at is not None
        assert key.split(".")[1] not in stored.model_dump_json()  # only its hash is kept
        assert key_id in admin_command(api, "list", "--user", user)

        admin_command(api, "revoke", key_id)
        refused = await api.http.get(HISTORY, headers=bearer(key))
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "api_key_revoked"

    @pytest.mark.parametrize(
        "key", ["pck_0123456789abcdef.wrong", "pck_short.secret", "pck_0123456789abcdef."]
    )
    async def test_unknown_or_malformed_keys_are_refused(self, api: ApiClient, key: str) -> None:
        response = await api.http.get(HISTORY, headers=bearer(key))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"


class IdentityProvider:
    """A real HTTP server publishing a JWKS, whose keys the test rotates."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = json.dumps({"keys": provider.jwks()}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def jwks(self) -> list[dict[str, Any]]:
        published = []
        for kid, key in self.keys.items():
            algorithm = (
                jwt.algorithms.RSAAlgorithm if kid.startswith("rsa") else jwt.algorithms.ECAlgorithm
            )
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "use": "sig"})
        return published

    def add(self, kid: str) -> Any:
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kid.startswith("rsa")
            else ec.generate_private_key(ec.SECP256R1())
        )
        self.keys[kid] = key
        return key

    def token(self, kid: str, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "sub": "usr_idp_1",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 300,
            "scope": "read write",
            **claims,
        }
        algorithm = "RS256" if kid.startswith("rsa") else "ES256"
        return jwt.encode(payload, key or self.keys[kid], algorithm, headers={"kid": kid})


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    thread = threading.Thread(target=provider.server.serve_forever, daemon=True)
    thread.start()
    yield provider
    provider.server.shutdown()


@pytest.fixture(scope="module")
async def with_idp(emu: RunningEmulator, idp: IdentityProvider) -> AsyncIterator[ApiClient]:
    async with api_client(
        emu,
        jwt_jwks_url=idp.url,
        jwt_jwks_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_refresh_cooldown_seconds=0,
    ) as client:
        yield client


class TestJwks:
    async def test_rs256_and_es256_tokens_of_the_provider_authenticate(
        self, with_idp: ApiClient, idp: IdentityProvider
    ) -> None:
        idp.add("rsa-1")
        idp.add("ec-1")
        for kid in ("rsa-1", "ec-1"):
            response = await with_idp.http.get(HISTORY, headers=bearer(idp.token(kid)))
            assert response.status_code == 200, response.text
        # HS256 development tokens still work next to them.
        hs256 = await with_idp.http.get(HISTORY, headers=with_idp.headers(new_user(), "read"))
        assert hs256.status_code == 200

    async def test_a_new_kid_after_the_providers_rotation_is_fetched(
        self, with_idp: ApiClient, idp: IdentityProvider
    ) -> None:
        idp.add("rsa-old")
        assert (
            await with_idp.http.get(HISTORY, headers=bearer(idp.token("rsa-old")))
        ).status_code == 200
        idp.keys.clear()
        idp.add("rsa-new")  # rotated: the old key is gone, a new kid signs
        fetches = idp.fetches
        response = await with_idp.http.get(HISTORY, headers=bearer(idp.token("rsa-new")))
        assert response.status_code == 200, response.text
        assert idp.fetches == fetches + 1

    @pytest.mark.parametrize(
        "claims", [{"aud": "someone-else"}, {"iss": "https://evil.example/"}, {"exp": 1}]
    )
    async def test_wrong_audience_issuer_or_expiry_is_refused(
        self, with_idp: ApiClient, idp: IdentityProvider, claims: dict[str, Any]
    ) -> None:
        idp.add("rsa-3")
        response = await with_idp.http.get(HISTORY, headers=bearer(idp.token("rsa-3", **claims)))
        assert response.status_code == 401

    async def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(
        self, with_idp: ApiClient, idp: IdentityProvider
    ) -> None:
        idp.add("rsa-4")
        forged = idp.token("rsa-4", rsa.generate_private_key(public_exponent=65537, key_size=2048))
        response = await with_idp.http.get(HISTORY, headers=bearer(forged))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
