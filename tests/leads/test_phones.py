import random

import phonenumbers
import pytest

from leads import phones


def _libphonenumber(e164):
    number = phonenumbers.parse(e164, "CN")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def test_mobile_display_fast_path_matches_libphonenumber():
    rng = random.Random(4)
    numbers = [f"+861{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(500)]
    assert [phones.display(n) for n in numbers] == [_libphonenumber(n) for n in numbers]


@pytest.mark.parametrize(
    ("e164", "shown"),
    [("+862162345678", "021 6234 5678"), ("+8675512345678", "0755 1234 5678"), ("", "")],
)
def test_landlines_keep_their_area_code(e164, shown):
    assert phones.display(e164) == shown
