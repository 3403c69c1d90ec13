"""Validators shared by every app's model fields, forms and imports.

``no_control_characters`` refuses text holding a control character (C0
but tab, line feed and carriage return; DEL; C1): nobody types one, they
arrive pasted or forged, and most of them cannot be written into an Excel
workbook at all (openpyxl's ``IllegalCharacterError``), so a name holding
one would break every export that lists it. It sits on the model fields
(``validators=``), so model forms, the admin and model serializers get it;
services whose input is not a model form call it on their own fields, and
the lead import names the row and the column.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@deconstructible(path="dcc.validators.NoControlCharacters")
class NoControlCharacters:
    message = _("Remove the control character (U+%(code)s) from this text.")
    code = "control_characters"

    def __call__(self, value) -> None:
        if not isinstance(value, str):
            return
        found = CONTROL_CHARACTERS.search(value)
        if found:
            raise ValidationError(
                self.message, code=self.code, params={"code": f"{ord(found.group()):04X}"}
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, NoControlCharacters)

    def __hash__(self) -> int:
        return hash(self.code)


no_control_characters = NoControlCharacters()


def check_text(**fields) -> None:
    """For services whose input is no model form: one ``ValidationError``
    naming each field (keyword) whose text holds a control character."""
    errors = {}
    for name, value in fields.items():
        try:
            no_control_characters(value)
        except ValidationError as exc:
            errors[name] = exc.error_list
    if errors:
        raise ValidationError(errors)
