"""Reading a lead file as dealerships receive it: .xlsx (openpyxl), .xls
(xlrd) and .csv / .txt in UTF-8, UTF-8 with BOM or GBK/GB18030, told apart by
their bytes, not by the file name. A file that cannot be read raises
``ImportFileError`` with one message, before anything is written.

``read_table`` gives the header and the non-blank rows (file row number,
cell values); cells keep their types (numbers, datetimes from date cells)
where the format has them, text elsewhere.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from xml.etree.ElementTree import ParseError
from zipfile import BadZipFile

from django.utils.translation import gettext as _
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The template's import sheet; other workbooks: the first sheet.
SHEET_TITLE = "潜客导入"


class ImportFileError(Exception):
    """The upload is not a file we can read (the API's 400 on ``file``)."""


class TooManyRows(ImportFileError):
    pass


def unreadable_message() -> str:
    return _(
        "This file cannot be read: upload an Excel workbook (.xlsx or .xls) or a CSV file "
        "(UTF-8 or GBK), with the column headers in its first row."
    )


def read_bytes(file) -> bytes:
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read()
    return data if isinstance(data, bytes) else data.encode()


def read_table(data: bytes, *, max_rows: int, limit: int | None = None):
    """(header, [(row number, values)]) of the file's bytes. ``limit``: stop
    after that many data rows (the mapping step's samples)."""
    if not data.strip():
        raise ImportFileError(unreadable_message())
    if data.startswith(ZIP_MAGIC):
        reader = _xlsx_rows(data)
    elif data.startswith(OLE_MAGIC):
        reader = _xls_rows(data)
    else:
        reader = _csv_rows(data)
    header, table = (), []
    try:
        for number, values in reader:
            if number == 1:
                header = tuple(values)
                continue
            if is_blank(values):
                continue
            table.append((number, tuple(values)))
            if limit is not None and len(table) >= limit:
                break
            if len(table) > max_rows:
                raise TooManyRows(
                    _("The file has more than %(max)s rows: split it into smaller files.")
                    % {"max": f"{max_rows:,}"}
                )
    except ImportFileError:
        raise
    except (BadZipFile, KeyError, OSError, ValueError, TypeError, EOFError, ParseError) as exc:
        raise ImportFileError(unreadable_message()) from exc
    if is_blank(header):
        raise ImportFileError(
            _("The first row of the file is empty: it must hold the column headers.")
        )
    return header, table


def is_blank(values: Iterable) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


# ---------------------------------------------------------------- .xlsx


class _SheetOfUnknownSize(ReadOnlyWorksheet):
    """openpyxl's read-only sheet, minus its opening look for <dimension>:
    when a file has none (openpyxl's own write-only files, many exports) that
    look parses the whole sheet once before the rows are read (a second of
    100,000 rows). We read what is really there anyway."""

    def _get_size(self) -> None:
        pass


class _WorkbookReader(ExcelReader):
    """``load_workbook(read_only=True)`` with sheets of unknown size."""

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files or "chartsheet" in rel.Type:
                continue
            worksheet = _SheetOfUnknownSize(self.wb, sheet.name, rel.target, self.shared_strings)
            worksheet.sheet_state = sheet.state
            self.wb._sheets.append(worksheet)


def _load_workbook(data: bytes):
    reader = _WorkbookReader(io.BytesIO(data), read_only=True, data_only=True)
    reader.read()
    return reader.wb


def _xlsx_rows(data: bytes):
    try:
        workbook = _load_workbook(data)
    except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise ImportFileError(unreadable_message()) from exc
    try:
        if SHEET_TITLE in workbook.sheetnames:
            sheet = workbook[SHEET_TITLE]
        elif workbook.worksheets:
            sheet = workbook.worksheets[0]
        else:
            raise ImportFileError(unreadable_message())
        # Some generators write a wrong <dimension> (and it is never read, see
        # _SheetOfUnknownSize): read what is really there.
        sheet.reset_dimensions()
        # Read-only sheets yield empty tuples for missing rows, so the count
        # is the Excel row number.
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


# ---------------------------------------------------------------- .xls


def _xls_rows(data: bytes):
    import xlrd  # only .xls files need it

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as exc:  # xlrd raises many kinds (CompDocError, struct.error, …) on junk
        raise ImportFileError(unreadable_message()) from exc
    try:
        names = book.sheet_names()
        if not names:
            raise ImportFileError(unreadable_message())
        try:
            title = SHEET_TITLE if SHEET_TITLE in names else names[0]
            sheet = book.sheet_by_name(title)
        except Exception as exc:  # a damaged sheet: the same as a damaged file
            raise ImportFileError(unreadable_message()) from exc
        for index in range(sheet.nrows):
            values = []
            for cell in sheet.row(index):
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        values.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
                    except (ValueError, OverflowError, xlrd.xldate.XLDateError):
                        values.append(cell.value)
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                    values.append(None)
                else:
                    values.append(cell.value)
            yield index + 1, values
    finally:
        book.release_resources()


# ---------------------------------------------------------------- .csv


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and
    GB2312), strictly: a byte sequence neither decodes is refused, never
    guessed with replacement characters. UTF-16 with its BOM too (Excel's
    "Unicode text")."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(unreadable_message())
    for encoding in _encodings(data):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        _("The text of this file is in no encoding we read (UTF-8, GBK, GB18030): save it again.")
    )


def _encodings(data: bytes):
    if data.startswith(b"\xef\xbb\xbf"):
        return ("utf-8-sig",)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ("utf-16",)
    return ("utf-8", "gb18030")


def _csv_rows(data: bytes):
    text = decode_text(data)
    sample = text[:8192]
    first_line = sample.split("\n", 1)[0]
    delimiter = max((",", "\t", ";", "|"), key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, values in enumerate(reader, start=1):
            yield number, [value.strip() if value.strip() else None for value in values]
    except csv.Error as exc:
        raise ImportFileError(unreadable_message()) from exc


def is_datetime(value) -> bool:
    return isinstance(value, datetime)
