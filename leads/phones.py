"""Customer phone numbers: the customer's identity in a store (DESIGN §2).

Numbers are stored in E.164 (``+8613812345678``) so that one customer is one
string however it was typed: ``138-1234-5678``, ``+86 138…``, ``0086…``,
``0138…`` (a mobile dialled from another city) and ``(021)6234-5678`` all
normalise. Validity comes from libphonenumber's CN metadata, which tracks new
mobile ranges better than a regular expression (TELEPHONY.md "Phone numbers").
"""

import re
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from phonenumbers import PhoneNumberType, geocoder

ACCEPTED_TYPES = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
}
LOCAL_LANDLINE = re.compile(r"^[2-9]\d{6,7}$")
_NOISE = re.compile(r"[\s\-().\u3000\u2010-\u2015]")


def normalize_phone(raw, *, area_code: str = "") -> str:
    """The E.164 form of a Chinese mobile or landline, else ValidationError.

    ``area_code`` (the store's, e.g. ``021``) is prepended to a local landline
    written without one (7–8 digits).
    """
    text = _NOISE.sub("", str(raw or "")).replace("＋", "+")
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    if area_code and LOCAL_LANDLINE.match(text):
        text = "0" + area_code.lstrip("0") + text
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if (
        number is None
        or number.country_code != 86
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in ACCEPTED_TYPES
    ):
        raise ValidationError(
            _(
                "“%(raw)s” is not a valid Chinese phone number: enter an 11-digit mobile "
                "(1[3-9]…) or a landline with its area code (e.g. 021-62345678)."
            ),
            code="invalid",
            params={"raw": str(raw).strip()},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def try_normalize(raw, *, area_code: str = "") -> str | None:
    try:
        return normalize_phone(raw, area_code=area_code)
    except ValidationError:
        return None


# Pure functions of the number: a worker formats each number once (lists and
# pages show the same book's numbers all day; libphonenumber's parse is
# about 0.1 ms).
@lru_cache(maxsize=65536)
def display(e164: str) -> str:
    """``138 1234 5678`` / ``021 6234 5678``: how people read numbers."""
    if not e164:
        return ""
    if len(e164) == 14 and e164.startswith("+861"):
        # Mainland mobiles, most numbers by far: libphonenumber's layout
        # (3-4-4) without parsing (lists show hundreds of them).
        return f"{e164[3:6]} {e164[6:10]} {e164[10:]}"
    number = phonenumbers.parse(e164, "CN")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def masked(e164: str) -> str:
    """``138****5678``: for places where the full number is not needed."""
    digits = display(e164).replace(" ", "")
    if len(digits) < 8:
        return "****"
    return digits[:3] + "****" + digits[-4:]


@lru_cache(maxsize=65536)
def region(e164: str) -> str:
    """归属地: the city or province the number is registered in."""
    if not e164:
        return ""
    return geocoder.description_for_number(phonenumbers.parse(e164, "CN"), "zh")
