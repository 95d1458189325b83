"""One money parser, one set of bounds, on every path that takes an amount."""

from decimal import Decimal

import pytest

from config.errors import DomainError
from config.money import parse_amount, parse_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", Decimal("12.00")),
        ("12.5", Decimal("12.50")),
        (" 1,299.90 ", Decimal("1299.90")),
        ("¥88", Decimal("88.00")),
        ("￥88.01", Decimal("88.01")),
        (0, Decimal("0.00")),
        (Decimal("999999999999.99"), Decimal("999999999999.99")),
    ],
)
def test_amounts_people_type_are_read(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", None, "abc", "NaN", "Infinity", "-1", "1.001", "1e12", "1000000000000", True, "1e-5"],
)
def test_bad_amounts_are_refused_naming_the_field(raw):
    with pytest.raises(DomainError) as caught:
        parse_amount(raw, field="budget")
    assert caught.value.field == "budget"


def test_a_positive_amount_refuses_zero():
    with pytest.raises(DomainError, match="more than zero"):
        parse_amount("0", positive=True)


def test_numbers_keep_their_own_precision_and_sign():
    assert parse_number("-12.3456", field="target", places=4, limit=Decimal("1e10")) == Decimal("-12.3456")
    with pytest.raises(DomainError):
        parse_number("1.23456", field="target", places=4, limit=Decimal("1e10"))
