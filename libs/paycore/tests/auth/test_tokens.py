import time

import jwt
import pytest
from paycore.auth.errors import InsufficientScope, InvalidToken, TokenExpired
from paycore.auth.tokens import Scope, decode_token, mint_token

SECRET = "s" * 64


class TestTokens:
    def test_round_trip_gives_subject_and_scopes(self) -> None:
        token = mint_token(SECRET, "usr_1", ["read", Scope.REFUND], issuer="paycore")
        principal = decode_token(SECRET, token, issuer="paycore")
        assert principal.user_id == "usr_1"
        assert principal.scopes == {Scope.READ, Scope.REFUND}

    def test_unknown_scopes_are_ignored(self) -> None:
        claims = {"sub": "u", "iss": "paycore", "exp": time.time() + 60, "scope": "read root"}
        principal = decode_token(SECRET, jwt.encode(claims, SECRET), issuer="paycore")
        assert principal.scopes == {Scope.READ}

    def test_admin_implies_every_scope(self) -> None:
        token = mint_token(SECRET, "ops", ["admin"], issuer="paycore")
        principal = decode_token(SECRET, token, issuer="paycore")
        for scope in Scope:
            principal.require(scope)

    def test_missing_scope_is_refused(self) -> None:
        principal = decode_token(
            SECRET, mint_token(SECRET, "u", ["read"], issuer="paycore"), issuer="paycore"
        )
        with pytest.raises(InsufficientScope):
            principal.require(Scope.WRITE)

    def test_expired(self) -> None:
        token = mint_token(SECRET, "u", ["read"], issuer="paycore", ttl_seconds=-60)
        with pytest.raises(TokenExpired):
            decode_token(SECRET, token, issuer="paycore")

    @pytest.mark.parametrize(
        "token",
        [
            "garbage",
            jwt.encode({"sub": "u", "iss": "paycore", "exp": time.time() + 60}, "t" * 40),
            jwt.encode({"sub": "u", "iss": "other", "exp": time.time() + 60}, SECRET),
            jwt.encode({"iss": "paycore", "exp": time.time() + 60}, SECRET),
            jwt.encode({"sub": "u", "iss": "paycore"}, SECRET),
            jwt.encode({"sub": "a b", "iss": "paycore", "exp": time.time() + 60}, SECRET),
            jwt.encode({"sub": "usr_1\n", "iss": "paycore", "exp": time.time() + 60}, SECRET),
            jwt.encode({"sub": "u", "iss": "paycore", "exp": time.time() + 60}, None, "none"),
            jwt.encode({"sub": "u", "iss": "paycore", "exp": time.time() + 60}, SECRET, "HS512"),
        ],
    )
    def test_invalid(self, token: str) -> None:
        with pytest.raises(InvalidToken):
            decode_token(SECRET, token, issuer="paycore")
