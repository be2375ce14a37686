"""What every handler needs, built once per app, and the steps every handler shares:
authenticate and rate-limit, read a strict body, run idempotently, answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from paycore.audit.models import Actor
from paycore.audit.trail import AuditTrail
from paycore.auth.api_keys import ApiKeyService, is_api_key
from paycore.auth.errors import InvalidToken
from paycore.auth.tokens import (
    ALGORITHM,
    IDP_ALGORITHMS,
    JwksVerifier,
    Principal,
    Scope,
    VerifiedTokens,
    token_algorithm,
)
from paycore.fraud.screening import FraudScreen
from paycore.gateway.interface import PaymentGateway
from paycore.idempotency.errors import InvalidIdempotencyKey, MissingIdempotencyKey
from paycore.idempotency.store import IdempotencyStore, StoredResponse, fingerprint
from paycore.invoices.models import Invoice
from paycore.invoices.paylinks import PayLinks, fill_link
from paycore.invoices.service import InvoiceService
from paycore.kit.audit import acting_as
from paycore.kit.context import request_id_var
from paycore.kit.crypto import FieldCipher
from paycore.kit.errors import (
    AppError,
    InvalidJson,
    UnsupportedMediaType,
    ValidationFailed,
    error_body,
    success_body,
)
from paycore.kit.http import client_ip
from paycore.kit.parsing import ascii_int, loads_json
from paycore.kit.service import Resources
from paycore.payments.checkout import Caller, Checkout
from paycore.payments.creation import PaymentCreator
from paycore.payments.service import PaymentService
from paycore.refunds.requests import RefundRequests
from paycore.refunds.service import RefundService
from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse

from payments_api.ratelimit import RateLimiter
from payments_api.responses import InvoiceOut
from payments_api.settings import Settings

M = TypeVar("M", bound=BaseModel)

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
DEVICE_HEADER = "x-device-fingerprint"
MAX_IDEMPOTENCY_KEY = 255


@dataclass
class Outcome:
    status: int
    data: BaseModel
    replayed: bool = False  # found the result of an earlier request (the backstop path)


@dataclass
class Api:
    settings: Settings
    resources: Resources
    gateway: PaymentGateway
    cipher: FieldCipher
    payments: PaymentService
    refunds: RefundService
    invoices: InvoiceService
    creator: PaymentCreator
    audit: AuditTrail
    idempotency: IdempotencyStore
    fraud: FraudScreen
    limiter: RateLimiter
    api_keys: ApiKeyService
    jwks: JwksVerifier | None
    hs256: VerifiedTokens
    checkout: Checkout
    refund_requests: RefundRequests
    pay_links: PayLinks | None = None

    @property
    def environment(self) -> str:
        return self.settings.cashfree_env.value

    def invoice_view(self, invoice: Invoice) -> InvoiceOut:
        """An invoice as its issuer sees it, with a fresh pay link (`INVOICE_PAY_URL`) when
        pay links are on."""
        if self.pay_links is None:
            return InvoiceOut.of(invoice)
        token = self.pay_links.issue(invoice.user_id, invoice.invoice_number)
        url = fill_link(
            self.settings.invoice_pay_url,
            pay_token=token,
            invoice_number=invoice.invoice_number,
            payment_id="",
            order_id="",
        )
        expires = self.pay_links.expiry().isoformat() if url else None
        return InvoiceOut.of(invoice, pay_url=url, pay_link_expires_at=expires)

    def client_ip(self, request: Request) -> str | None:
        return client_ip(request)

    async def guard(self, request: Request, scope: Scope) -> Principal:
        """Authenticates the bearer token, counts the request against the caller's and the
        IP's rate limits (one Redis round trip), then checks the scope."""
        principal: Principal | None = None
        failure: AppError | None = None
        try:
            principal = await self._principal(request)
        except AppError as error:
            failure = error  # still counted against the IP: brute force is rate limited too
        await self.limiter.check(
            ip=self.client_ip(request), user_id=principal.user_id if principal else None
        )
        if failure is not None:
            raise failure
        if principal is None:  # not an assert: -O must never let a caller through
            raise InvalidToken()
        principal.require(scope)
        # Every change this request makes is audited as this user's (paycore.kit.audit).
        actor = self.actor(request, principal)
        acting_as(actor.kind, actor.id, ip=actor.ip, user_agent=actor.user_agent)
        return principal

    async def _principal(self, request: Request) -> Principal:
        """The caller of `Authorization: Bearer <token>`: an API key (`pck_…`), an identity
        provider's JWT (RS256/ES256, when JWKS is configured) or an HS256 JWT (when enabled)."""
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        token = token.strip()
        if kind.lower() != "bearer" or not token:
            raise InvalidToken("send Authorization: Bearer <token>")
        if is_api_key(token):
            return await self.api_keys.authenticate(token)
        hs256_enabled = self.settings.jwt_hs256_enabled
        if hs256_enabled and (known := self.hs256.known(token)) is not None:
            return known  # verified on an earlier request, not expired since
        algorithm = token_algorithm(token)
        if algorithm in IDP_ALGORITHMS and self.jwks is not None:
            return await self.jwks.decode(token)
        if algorithm == ALGORITHM and hs256_enabled:
            return self.hs256.verify(token)
        raise InvalidToken("this kind of token is not accepted here")

    def caller(self, request: Request, principal: Principal) -> Caller:
        """The caller as checkout sees it: owner, audited actor, IP and device fingerprint."""
        return Caller(
            user_id=principal.user_id,
            actor=self.actor(request, principal),
            ip=self.client_ip(request),
            device=(request.headers.get(DEVICE_HEADER) or "")[:200] or None,
        )

    def actor(self, request: Request, principal: Principal) -> Actor:
        return Actor(
            kind="user",
            id=principal.user_id,
            ip=self.client_ip(request),
            user_agent=(request.headers.get("user-agent") or "")[:200] or None,
        )

    async def idempotent(
        self,
        request: Request,
        principal: Principal,
        namespace: str,
        body: Any,
        run: Callable[[str, str], Awaitable[Outcome]],
    ) -> JSONResponse:
        """Runs `run(key, fingerprint)` once per Idempotency-Key: a repeat gets the stored
        answer (`Idempotent-Replayed: true`), another body 422, a repeat while busy 409."""
        key = idempotency_key_of(request)
        request_fingerprint = fingerprint(principal.user_id, request.method, request.url.path, body)
        begun = await self.idempotency.begin(namespace, principal.user_id, key, request_fingerprint)
        if isinstance(begun, StoredResponse):
            return replay(begun)
        try:
            outcome = await run(key, request_fingerprint)
        except AppError as error:
            if _is_final(error.status):
                body_out = error_body(error, request_id_var.get())
                await begun.complete(StoredResponse(error.status, body_out, dict(error.headers)))
            else:
                await begun.release()
            raise
        except BaseException:
            await begun.release()
            raise
        # The answer's body is encoded once: the stored answer holds the bytes sent.
        body_out = answer_body(outcome.data)
        response = JSONResponse(body_out, status_code=outcome.status)
        stored = StoredResponse(outcome.status, body_out, body_json=bytes(response.body).decode())
        await begun.complete(stored)
        if outcome.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return response


def _is_final(status: int) -> bool:
    """Answers worth replaying: a retry would get the same. Busy, limited and server-side
    failures are not stored, so the retry runs again."""
    return status < 500 and status not in (409, 429)


def idempotency_key_of(request: Request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None or not key.strip():
        raise MissingIdempotencyKey()
    key = key.strip()
    if len(key) > MAX_IDEMPOTENCY_KEY or not all(c.isalnum() or c in "-_.:" for c in key):
        raise InvalidIdempotencyKey()
    return key


def replay(stored: StoredResponse) -> JSONResponse:
    response = JSONResponse(stored.body, status_code=stored.status)
    response.headers.update(stored.headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def respond(data: BaseModel, status: int = 200) -> JSONResponse:
    """`{data, requestId}` with the response model as JSON."""
    return JSONResponse(answer_body(data), status_code=status)


def answer_body(data: BaseModel) -> dict[str, Any]:
    """`{data, requestId}` as JSON values."""
    return success_body(data.model_dump(mode="json"), request_id_var.get())


def query_of(request: Request, *allowed: str) -> QueryParams:
    """The request's query parameters; 400 naming those not in `allowed`."""
    query = request.query_params
    unknown = set(query.keys()) - set(allowed)
    if unknown:
        raise ValidationFailed(unknown_parameters=sorted(unknown))
    return query


def int_param(raw: str | None, name: str, *, default: int, maximum: int) -> int:
    """A query parameter of 1 to `maximum`; `default` when it is absent; else 400."""
    if raw is None:
        return default
    value = ascii_int(raw)
    if value is None or not 1 <= value <= maximum:
        raise ValidationFailed(f"{name} must be 1 to {maximum}", field=name)
    return value


async def read_body(request: Request, model: type[M], *, optional: bool = False) -> tuple[M, Any]:
    """The body validated by `model` (strict), and as parsed JSON (for the fingerprint)."""
    raw = await request.body()
    if not raw.strip():
        if not optional:
            raise ValidationFailed("a JSON body is required")
        raw = b"{}"
    else:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise UnsupportedMediaType()
    try:
        parsed = loads_json(raw)
    except ValueError:
        raise InvalidJson() from None
    if not isinstance(parsed, dict):
        raise ValidationFailed("the body must be a JSON object")
    try:
        return model.model_validate_json(raw), parsed
    except ValidationError as exc:
        raise ValidationFailed(errors=validation_errors(exc)) from None


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Field, message and a stable type per problem; never the offending value (may be PII)."""
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]) or "body",
            "type": error["type"],
            "message": error["msg"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]


def get_api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api
