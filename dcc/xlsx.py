"""Writing what people typed into Excel workbooks, safely: the one helper of
every openpyxl writer (``kpi.export``, ``leads.importer``'s template).

openpyxl turns a ``str`` starting with ``=`` into a live formula and one
such as ``#N/A`` into an error value, and refuses (``IllegalCharacterError``)
a string holding a control character. A staff, team, store, channel or
vehicle model name is data, never a formula: ``cell`` writes every string as
a text cell (``data_type`` "s", an inline string Excel never evaluates),
with the characters a worksheet cannot hold removed (rows stored before
``dcc.validators.no_control_characters`` existed still export). A text that
Excel or a CSV reader would take for a formula when typed (leading ``=``,
``+``, ``-``, ``@``, tab, carriage return) also gets the cell's
"quote prefix", so editing the cell in Excel keeps it text; the value itself
is not changed (the import template's model names must match on import).

We write no formulas of our own; a workbook that needs one would write it
through openpyxl directly, visibly.
"""

from __future__ import annotations

from copy import copy
from decimal import Decimal

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles.cell_style import StyleArray

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBERS = (int, float, Decimal)


def clean_text(value: str) -> str:
    """``value`` without the characters a worksheet cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def _style_array(sheet, style: str) -> StyleArray:
    """The named style's cell formatting, looked up once per workbook (openpyxl
    searches the named styles by name on every ``cell.style =``): every cell
    of the style shares the one named style (its ``xfId``)."""
    workbook = sheet.parent
    arrays = workbook.__dict__.setdefault("_dcc_style_arrays", {})
    if style not in arrays:
        arrays[style] = workbook._named_styles[style].as_tuple()
    return arrays[style]


def cell(sheet, value, style: str | None = None):
    """A cell for ``sheet.append`` (write-only or not): a string always as
    text, anything else as openpyxl types it; ``style`` a named style the
    workbook has."""
    text = isinstance(value, str)
    if text:
        value = clean_text(value)
    made = WriteOnlyCell(sheet, value)
    if style is not None:
        # As ``made.style = style`` does; before the quote prefix, which a
        # named style resets.
        made._style = copy(_style_array(sheet, style))
    if text:
        made.data_type = "s"
        if value.startswith(FORMULA_STARTS):
            made.quotePrefix = True
    return made


def streamed(sheet, values, styles):
    """The cells of one row for a write-only ``sheet.append``, as ``cell``
    makes them (the same values, types, styles and quote prefix), yielded one
    at a time: openpyxl writes each cell as it is yielded, so one cell per
    style is filled again for every value instead of a new cell and a copy of
    its style each time (a workbook's thousands of figures)."""
    reused = sheet.__dict__.setdefault("_dcc_cells", {})
    for value, style in zip(values, styles, strict=True):
        text = isinstance(value, str)
        if text:
            value = clean_text(value)
        if (text and value.startswith(FORMULA_STARTS)) or not (
            text or value is None or isinstance(value, _NUMBERS)
        ):  # rare (a formula-like text, a date: its own number format): a cell of its own
            yield cell(sheet, value, style)
            continue
        made = reused.get(style)
        if made is None:
            made = reused[style] = cell(sheet, None, style)
        made._value = value
        if text:
            made.data_type = "s"
        else:
            made.value = value  # openpyxl's own typing of numbers and dates
        yield made


def row(sheet, values, style: str | None = None) -> list:
    """``cell`` of each value, for ``sheet.append``."""
    return [cell(sheet, value, style) for value in values]
