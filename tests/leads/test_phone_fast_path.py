"""The fast phone normalisation (leads.phones_fast, what call-log imports
use) agrees with libphonenumber (leads.phones.try_normalize, the reference)
number for number.

No database. A large random sample over every shape a PBX writes (mobiles
over every prefix, with trunk and dial prefixes, landlines of every length
with and without area code, service and short numbers, carrier-selection
and international prefixes, noise), with and without a store area code.
"""

import random

import pytest

from leads.phones import try_normalize
from leads.phones_fast import mainland_digits, try_normalize_fast
from telephony import parsers

AREA_CODES = ("", "021", "0512", "10", "0755")


def _sample(rng: random.Random, count: int) -> list[str]:
    numbers = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.3:  # mobiles and would-be mobiles: 1 + ten digits
            number = f"1{rng.randrange(10**10):010d}"
        elif roll < 0.4:  # mobiles dialled from another city: 0 + mobile
            number = f"01{rng.randrange(10**10):010d}"
        elif roll < 0.6:  # trunk 0, area code, number: every length
            digits = rng.randint(5, 12)
            number = f"0{rng.randrange(10**digits):0{digits}d}"
        elif roll < 0.75:  # local landlines and other short numbers
            number = f"{rng.randint(1, 9)}{rng.randrange(10 ** rng.randint(3, 8))}"
        elif roll < 0.85:  # prefixes libphonenumber strips or reads as international
            prefix = rng.choice(("17951", "12593", "11808", "00", "0086", "86", "008613", "179"))
            number = prefix + f"{rng.randrange(10 ** rng.randint(1, 11))}"
        elif roll < 0.9:  # service numbers
            number = rng.choice(("400", "800", "95", "96", "10", "12")) + str(
                rng.randrange(10 ** rng.randint(3, 8))
            )
        else:  # anything
            number = str(rng.randrange(10 ** rng.randint(1, 14)))
        numbers.append(number)
    return numbers


def test_fast_path_agrees_with_libphonenumber_on_a_large_random_sample():
    rng = random.Random(20250303)
    numbers = _sample(rng, 12_000)
    # Every mobile block's first four digits, and every trunk-0 prefix up to
    # four digits, at least once.
    numbers += [f"{prefix}{rng.randrange(10**7):07d}" for prefix in range(1000, 2000)]
    numbers += [f"0{prefix}{rng.randrange(10**7):07d}" for prefix in range(10, 1000)]
    decided = 0
    for number in numbers:
        area_code = rng.choice(AREA_CODES)
        fast = mainland_digits(number, area_code)
        if fast is False:  # left to libphonenumber
            continue
        decided += 1
        assert fast == try_normalize(number, area_code=area_code), (number, area_code)
    # Nearly everything a PBX writes is decided without libphonenumber.
    assert decided > 0.85 * len(numbers)


@pytest.mark.parametrize(
    ("raw", "area_code", "e164"),
    [
        ("13812345678", "", "+8613812345678"),
        ("013812345678", "", "+8613812345678"),  # a mobile from another city
        ("02162345678", "", "+862162345678"),
        ("62345678", "021", "+862162345678"),  # local, the store's area code
        ("62345678", "", None),  # local without an area code: unknown
        ("14912345678", "", None),  # no such mobile range
        ("16012345678", "", None),
        ("4008123123", "", None),  # a service number, not a line we keep
        ("10086", "", None),
        ("1795113812345678", "", "+8613812345678"),  # carrier selection 17951
        ("008613812345678", "", "+8613812345678"),  # international: libphonenumber's
        ("+86 138-1234-5678", "", "+8613812345678"),
        ("１３８１２３４５６７８", "", "+8613812345678"),  # full-width digits
    ],
)
def test_examples(raw, area_code, e164):
    assert try_normalize_fast(raw, area_code) == e164
    assert try_normalize(raw, area_code=area_code) == e164


def test_agrees_with_libphonenumber_whatever_path_it_takes():
    rng = random.Random(7)
    numbers = [*_sample(rng, 3_000), "+86 21 6234 5678", "(021)62345678", "138-1234-5678"]
    for number in numbers:
        for area_code in ("", "021"):
            expected = try_normalize(number, area_code=area_code)
            assert try_normalize_fast(number, area_code) == expected, (number, area_code)
            # …and again from the cache
            assert try_normalize_fast(number, area_code) == expected


def test_every_mobile_prefix_agrees_with_libphonenumber():
    rng = random.Random(7)
    numbers = [f"1{second}{rng.randrange(10**9):09d}" for second in "3456789" for _ in range(150)]
    numbers += [f"1{prefix:02d}{rng.randrange(10**8):08d}" for prefix in range(100)]
    numbers += ["13800000000", "16100000000", "17400000000", "17406000000", "19999999999"]
    for number in numbers:
        for area_code in AREA_CODES:
            expected = try_normalize(number, area_code=area_code)
            assert try_normalize_fast(number, area_code) == expected, (number, area_code)


def test_external_number_strips_the_dial_prefix_first():
    config = parsers.SourceConfig(dial_prefixes=("9",), area_code="021")
    assert parsers.external_number("913812345678", config, dialled=True) == "+8613812345678"
    assert parsers.external_number("962345678", config, dialled=True) == "+862162345678"
    # An inbound number is taken as written.
    assert parsers.external_number("962345678", config) is None
