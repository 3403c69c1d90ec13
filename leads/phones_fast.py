"""leads.phones.try_normalize for a million numbers: what a call-log import
needs (a PBX writes most numbers as plain digits, most of them distinct).

:func:`try_normalize_fast` gives what ``try_normalize`` gives, cached, and
decides plain digits by :class:`MainlandDigits` (libphonenumber's own steps on
its CN metadata, without its parse()); anything else goes to libphonenumber.
tests/leads/test_phone_fast_path.py holds the two equal.
"""

import re
from functools import lru_cache

import phonenumbers

from leads.phones import ACCEPTED_TYPES, LOCAL_LANDLINE, try_normalize

NumberType = phonenumbers.PhoneNumberType


class MainlandDigits:
    """leads.phones.try_normalize for a number written as plain ASCII digits,
    without libphonenumber's parse() (some 50 µs a number: a million calls
    are a million numbers, most of them distinct).

    It follows libphonenumber step by step on the CN metadata that
    libphonenumber itself ships (so new number ranges arrive with the
    package): the store's area code before a local landline (as
    leads.phones does), the national prefix (trunk ``0``, carrier codes)
    stripped when libphonenumber would strip it, then the number type by
    libphonenumber's order of tests; accepted types are leads.phones'.
    Digits that libphonenumber would read as international (the IDD ``00``,
    or a leading country code ``86``) are left to libphonenumber, as is
    anything but digits. tests/leads/test_phone_fast_path.py holds it to
    libphonenumber.
    """

    def __init__(self, metadata):
        general = metadata.general_desc
        self.general = self._pattern(general)
        lengths = tuple(general.possible_length)
        self.general_lengths = lengths
        self.local_only = frozenset(general.possible_length_local_only)
        others = [
            (kind, self._desc(getattr(metadata, name)))
            for kind, name in (
                (NumberType.PREMIUM_RATE, "premium_rate"),
                (NumberType.TOLL_FREE, "toll_free"),
                (NumberType.SHARED_COST, "shared_cost"),
                (NumberType.VOIP, "voip"),
                (NumberType.PERSONAL_NUMBER, "personal_number"),
                (NumberType.PAGER, "pager"),
                (NumberType.UAN, "uan"),
                (NumberType.VOICEMAIL, "voicemail"),
            )
        ]
        same = metadata.same_mobile_and_fixed_line_pattern
        fixed, mobile = self._desc(metadata.fixed_line), self._desc(metadata.mobile)
        self.mobile = mobile[1] if mobile and not same else None
        # Per length of the national number: _number_type_helper's tests
        # that a number of that length can pass, in its order (the types we
        # do not accept come first, then fixed line, then mobile).
        tests = [*others, (NumberType.FIXED_LINE, fixed)]
        if not same:
            tests.append((NumberType.MOBILE, mobile))
        self.tests = {
            length: [
                (kind, pattern)
                for kind, (possible, pattern) in ((k, d) for k, d in tests if d is not None)
                if not possible or length in possible
            ]
            for length in lengths
        }
        self.same_mobile_and_fixed = same
        prefix = metadata.national_prefix_for_parsing
        self.national_prefix = re.compile(prefix).match if prefix else None
        self.international = re.compile(metadata.international_prefix).match
        self.country = str(metadata.country_code)
        self.e164_prefix = "+" + self.country
        # A transform rule rewrites numbers: not followed here; without
        # possible lengths every type would have to be tried at every length.
        self.usable = bool(self.general and lengths and not metadata.national_prefix_transform_rule)

    @staticmethod
    def _pattern(desc):
        if desc is None or not desc.national_number_pattern:
            return None
        return re.compile(desc.national_number_pattern).fullmatch

    @classmethod
    def _desc(cls, desc):
        """_is_number_matching_desc: the possible lengths, then the pattern."""
        pattern = cls._pattern(desc)
        if pattern is None:
            return None
        return frozenset(desc.possible_length), pattern

    def _national(self, digits: str) -> str:
        """The national significant number parse() keeps (national prefix
        stripped when the rest is a viable number of a possible length)."""
        match = self.national_prefix(digits) if self.national_prefix else None
        if not match:
            return digits
        rest = digits[match.end() :]
        general = self.general
        if general(digits) is not None and general(rest) is None:
            return digits
        # _test_number_length(rest): too short, local-only or an impossible
        # length keep the number as written (too long is taken).
        length, lengths = len(rest), self.general_lengths
        if length in self.local_only or length < min(lengths):
            return digits
        if length <= max(lengths) and length not in lengths:
            return digits
        return rest

    def _type(self, national: str):
        """libphonenumber's _number_type_helper: the general description
        (length, pattern), then each type's, in its order."""
        tests = self.tests.get(len(national))
        if tests is None or self.general(national) is None:
            return NumberType.UNKNOWN
        for kind, pattern in tests:
            if pattern(national) is not None:
                if kind == NumberType.FIXED_LINE and (
                    self.same_mobile_and_fixed
                    or (self.mobile is not None and self.mobile(national) is not None)
                ):
                    return NumberType.FIXED_LINE_OR_MOBILE
                return kind
        return NumberType.UNKNOWN

    def __call__(self, text: str, area_code: str) -> str | bool | None:
        """E.164, or None when not a number leads.phones accepts, or False
        when undecided here."""
        if not (self.usable and text.isascii() and text.isdigit()) or len(text) < 2:
            return False
        if area_code and LOCAL_LANDLINE.match(text):
            text = "0" + area_code.lstrip("0") + text
        if self.international(text) or text.startswith(self.country):
            return False
        national = self._national(text)
        if len(national) > 17:
            return False
        return self.e164_prefix + national if self._type(national) in ACCEPTED_TYPES else None


mainland_digits = MainlandDigits(phonenumbers.PhoneMetadata.metadata_for_region("CN"))


@lru_cache(maxsize=20_000)
def _try_normalize_cached(candidate: str, area_code: str) -> str | None:
    return try_normalize(candidate, area_code=area_code)


_NUMBERS: dict[str, dict[str, str | None]] = {}  # area code → number as written → E.164


def try_normalize_fast(candidate: str, area_code: str) -> str | None:
    """leads.phones.try_normalize, fast and cached: plain digits (what a PBX
    writes) by :class:`MainlandDigits`, anything else by libphonenumber."""
    numbers = _NUMBERS.get(area_code)
    if numbers is None:
        numbers = _NUMBERS[area_code] = {}
    number = numbers.get(candidate, False)
    if number is not False:
        return number
    number = mainland_digits(candidate, area_code)
    if number is False:
        number = _try_normalize_cached(candidate, area_code)
    if len(numbers) >= 500_000:
        numbers.clear()
    numbers[candidate] = number
    return number
