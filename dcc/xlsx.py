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
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles.cell_style import StyleArray

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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


# The exact types openpyxl writes as numbers (data type "n"), as its
# ``Cell._bind_value`` types them; ``bool`` (a subclass of int) is not one.
_NUMERIC_TYPES = frozenset((int, float, Decimal))


class _Refilled(Cell):
    """The one cell of a style that ``streamed`` fills with value after
    value: whether it is styled and its style's index among the workbook's
    cell formats (``xf``) are worked out once, where openpyxl's properties
    (``has_style``, ``style_id``) would redo them for every value it writes
    (an ``any`` over the style and a hash and look-up in the workbook's
    list). Its style never changes, so neither do they."""

    __slots__ = ("has_style", "style_id")

    @classmethod
    def of(cls, model: Cell) -> _Refilled:
        made = cls(model.parent, row=model.row, column=model.column)
        made._style = model._style
        made.has_style = model.has_style
        # As openpyxl would when the cell is first written, just after this:
        # the workbook's list of cell formats keeps its order.
        made.style_id = model.style_id if made.has_style else 0
        return made


def streamed(sheet, values, styles):
    """The cells of one row for a write-only ``sheet.append``, as ``cell``
    makes them (the same values, types, styles and quote prefix), yielded one
    at a time: openpyxl writes each cell as it is yielded, so one cell per
    style is filled again for every value instead of a new cell and a copy of
    its style each time (a workbook's thousands of figures). A text, a
    number or a blank is set on the cell as openpyxl's typing would set it
    (``Cell._bind_value``: "s" or "n"), without its type search; anything
    else (a formula-like text, a date, a bool) gets a cell of its own from
    ``cell``."""
    reused = sheet.__dict__.setdefault("_dcc_cells", {})
    for value, style in zip(values, styles, strict=True):
        kind = type(value)
        if kind is str or isinstance(value, str):
            value = clean_text(value)
            if value.startswith(FORMULA_STARTS):  # rare: the quote prefix is the cell's own
                yield cell(sheet, value, style)
                continue
            data_type = "s"
        elif value is None or kind in _NUMERIC_TYPES:
            data_type = "n"
        else:  # rare (a date: its own number format)
            yield cell(sheet, value, style)
            continue
        made = reused.get(style)
        if made is None:
            made = reused[style] = _Refilled.of(cell(sheet, None, style))
        made._value = value
        made.data_type = data_type
        yield made


def cells_only(sheet) -> None:
    """Make the write-only ``sheet`` take rows of cells (``cell``,
    ``streamed``) without openpyxl's per-value typing: its ``append`` binds
    each item as a value first (``WriteOnlyWorksheet._values_to_row``), which
    for a cell means a type search, a formatted error message with the
    cell's repr and a caught ``ValueError``, about a third of the writing
    time of a styled workbook. Here a cell is only given its position, as
    openpyxl does after that error; a plain value still gets a cell of its
    own (``WriteOnlyCell``, typed by openpyxl, ``None`` left out)."""

    def values_to_row(values, row_idx):
        for column, made in enumerate(values, 1):
            if not isinstance(made, Cell):
                if made is None:
                    continue
                made = WriteOnlyCell(sheet, made)
            made.column = column
            made.row = row_idx
            if made.hyperlink is not None:
                made.hyperlink.ref = made.coordinate
            yield made

    sheet._values_to_row = values_to_row


def row(sheet, values, style: str | None = None) -> list:
    """``cell`` of each value, for ``sheet.append``."""
    return [cell(sheet, value, style) for value in values]
