import time

import jwt
import pytest
from paycore.auth.errors import InsufficientScope, InvalidToken, TokenExpired
from paycore.auth.tokens import (
    LEEWAY_SECONDS,
    Scope,
    VerifiedTokens,
    decode_token,
    mint_token,
)

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

    # Made at collection: a day of validity, so a long run cannot turn one into an expiry.
    @pytest.mark.parametrize(
        "token",
        [
            "garbage",
            jwt.encode({"sub": "u", "iss": "paycore", "exp": time.time() + 86400}, "t" * 40),
            jwt.encode({"sub": "u", "iss": "other", "exp": time.time() + 86400}, SECRET),
            jwt.encode({"iss": "paycore", "exp": time.time() + 86400}, SECRET),
            jwt.encode({"sub": "u", "iss": "paycore"}, SECRET),
            jwt.encode({"sub": "a b", "iss": "paycore", "exp": time.time() + 86400}, SECRET),
            jwt.encode({"sub": "usr_1\n", "iss": "paycore", "exp": time.time() + 86400}, SECRET),
            jwt.encode({"sub": "u", "iss": "paycore", "exp": time.time() + 86400}, None, "none"),
            jwt.encode({"sub": "u", "iss": "paycore", "exp": time.time() + 86400}, SECRET, "HS512"),
        ],
    )
    def test_invalid(self, token: str) -> None:
        with pytest.raises(InvalidToken):
            decode_token(SECRET, token, issuer="paycore")


class TestVerifiedTokens:
    def test_a_repeat_is_answered_without_decoding_again(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        tokens = VerifiedTokens(SECRET, issuer="paycore")
        token = mint_token(SECRET, "usr_1", ["write"], issuer="paycore")
        first = tokens.verify(token)

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("decoded again")

        monkeypatch.setattr(jwt, "decode", refuse)
        assert tokens.known(token) == tokens.verify(token) == first

    def test_a_known_token_is_refused_once_expired(self) -> None:
        tokens = VerifiedTokens(SECRET, issuer="paycore")
        # Valid for one to two more seconds (expiry is in whole seconds: with one, a verify in
        # the next second than the mint's already found it expired), then waited out.
        token = mint_token(SECRET, "u", ["read"], issuer="paycore", ttl_seconds=2 - LEEWAY_SECONDS)
        assert tokens.verify(token).user_id == "u"
        time.sleep(2.05)
        assert tokens.known(token) is None
        with pytest.raises(TokenExpired):
            tokens.verify(token)

    def test_a_refused_token_is_not_remembered(self) -> None:
        tokens = VerifiedTokens(SECRET, issuer="paycore")
        forged = mint_token("x" * 64, "u", ["admin"], issuer="paycore")
        for _ in range(2):
            with pytest.raises(InvalidToken):
                tokens.verify(forged)
        assert tokens.known(forged) is None

    def test_memory_is_bounded_oldest_first(self) -> None:
        tokens = VerifiedTokens(SECRET, issuer="paycore", max_tokens=2)
        issued = [mint_token(SECRET, f"u{n}", ["read"], issuer="paycore") for n in range(3)]
        for token in issued:
            tokens.verify(token)
        assert tokens.known(issued[0]) is None
        assert [tokens.known(token) is not None for token in issued[1:]] == [True, True]
