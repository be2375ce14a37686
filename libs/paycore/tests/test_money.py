import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paycore.kit.errors import InvalidAmount, UnknownCurrency
from paycore.money import CURRENCY_EXPONENTS, dump_json, load_json, to_major, to_minor

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
minor_amounts = st.integers(min_value=-(10**18), max_value=10**18)


@given(minor=minor_amounts, currency=currencies)
def test_minor_to_major_to_minor_round_trips_exactly(minor: int, currency: str) -> None:
    assert to_minor(to_major(minor, currency), currency) == minor


@given(minor=minor_amounts, currency=currencies)
def test_major_has_exactly_the_currency_decimals(minor: int, currency: str) -> None:
    major = to_major(minor, currency)
    assert major.as_tuple().exponent == -CURRENCY_EXPONENTS[currency]
    assert to_minor(str(major), currency) == minor


@given(minor=minor_amounts, extra_digit=st.integers(min_value=1, max_value=9), currency=currencies)
def test_to_minor_rejects_more_decimals_than_the_currency_allows(
    minor: int, extra_digit: int, currency: str
) -> None:
    exponent = CURRENCY_EXPONENTS[currency]
    too_precise = to_major(minor, currency) + Decimal(extra_digit).scaleb(-(exponent + 1))
    with pytest.raises(InvalidAmount):
        to_minor(too_precise, currency)


@given(
    value=st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12
    )
)
def test_two_decimal_amounts_convert_exactly_in_inr(value: Decimal) -> None:
    assert to_minor(value, "INR") == int(value * 100)


def test_trailing_zeros_are_not_excess_precision() -> None:
    assert to_minor("170.000", "INR") == 17000
    assert to_minor(Decimal("1E+2"), "JPY") == 100


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [("10.34", "INR", 1034), (Decimal("0.01"), "INR", 1), (5, "INR", 500), ("1.234", "KWD", 1234)],
)
def test_to_minor_examples(value: Decimal | int | str, currency: str, minor: int) -> None:
    assert to_minor(value, currency) == minor


@pytest.mark.parametrize("value", [10.34, True, "abc", "NaN", "Infinity", "1e999999999"])
def test_to_minor_refuses_floats_and_non_numbers(value: object) -> None:
    with pytest.raises(InvalidAmount):
        to_minor(value, "INR")  # type: ignore[arg-type]


def test_unknown_currency_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownCurrency):
        to_major(100, "XYZ")


def test_dump_json_writes_decimals_as_bare_numbers() -> None:
    body = {"order_amount": to_major(1034, "INR"), "tags": ["a"], "ok": True, "none": None}
    assert dump_json(body) == b'{"order_amount":10.34,"tags":["a"],"ok":true,"none":null}'
    assert dump_json({"amount": to_major(17000, "INR")}) == b'{"amount":170.00}'


def test_dump_json_refuses_floats() -> None:
    with pytest.raises(TypeError):
        dump_json({"order_amount": 10.34})


def test_load_json_keeps_numbers_exact() -> None:
    parsed = load_json(b'{"order_amount": 10.34, "n": 3}')
    assert parsed == {"order_amount": Decimal("10.34"), "n": 3}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
)


@given(value=json_values)
def test_dump_json_writes_everything_but_decimals_as_json_dumps_does(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert dump_json(value) == expected
