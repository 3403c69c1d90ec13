"""A minimal .xls (BIFF8 in an OLE2 compound file) writer for test files:
one sheet of text, number and date cells. No library writes .xls any more
(xlwt is unmaintained), so the test builds the bytes the way Excel 97-2003
lays them out, as far as a reader needs: the Workbook stream (BOF, the
built-in formats' XF records, BOUNDSHEET, EOF; the sheet's BOF, LABEL /
NUMBER cells, EOF) in a compound file with one FAT sector and one
directory sector."""

import struct
from datetime import datetime

SECTOR = 512
ENDOFCHAIN, FREESECT, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD


def _record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(kind: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 0x0006))


def _xf(format_index: int, cell: bool) -> bytes:
    # font 0, format, type/protection (style XF: 0xFFF5), the rest zero.
    protection = 0x0001 if cell else 0xFFF5
    return _record(0x00E0, struct.pack("<HHH", 0, format_index, protection) + b"\0" * 14)


def _text(value: str) -> bytes:
    encoded = value.encode("utf-16-le")
    return struct.pack("<HB", len(value), 1) + encoded


def _serial(value: datetime) -> float:
    delta = value - datetime(1899, 12, 30)  # noqa: DTZ001 - Excel serials are naive
    return delta.days + delta.seconds / 86400


def _sheet(rows) -> bytes:
    body = _bof(0x0010)
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, datetime):
                body += _record(0x0203, struct.pack("<HHHd", r, c, 16, _serial(value)))
            elif isinstance(value, int | float):
                body += _record(0x0203, struct.pack("<HHHd", r, c, 15, float(value)))
            else:
                body += _record(0x0204, struct.pack("<HHH", r, c, 15) + _text(str(value)))
    return body + _record(0x000A, b"")


def _workbook_stream(title: str, rows) -> bytes:
    globals_ = _bof(0x0005) + _record(0x0042, struct.pack("<H", 1200))  # CODEPAGE: UTF-16
    globals_ += _record(0x0022, struct.pack("<H", 0))  # DATEMODE 1900
    # 15 style XFs, then cell XF 15 (General) and 16 (format 22: m/d/yy h:mm).
    globals_ += b"".join(_xf(0, cell=False) for _ in range(15))
    globals_ += _xf(0, cell=True) + _xf(22, cell=True)
    name = title.encode("utf-16-le")
    boundsheet_size = 4 + 8 + len(name)
    eof = _record(0x000A, b"")
    sheet_offset = len(globals_) + boundsheet_size + len(eof)
    globals_ += _record(0x0085, struct.pack("<IBBBB", sheet_offset, 0, 0, len(title), 1) + name)
    return globals_ + eof + _sheet(rows)


def _entry(name: str, kind: int, start: int, size: int, child: int = FREESECT) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1)  # type, colour black
        + struct.pack("<III", FREESECT, FREESECT, child)  # left, right, child
        + b"\0" * 16  # CLSID
        + struct.pack("<I", 0)  # state
        + b"\0" * 16  # times
        + struct.pack("<III", start, size, 0)
    )


def xls_bytes(rows, title: str = "Sheet1") -> bytes:
    """The bytes of an .xls file with ``rows`` (first row: headers)."""
    stream = _workbook_stream(title, rows)
    stream = stream.ljust(max(4096, -(-len(stream) // SECTOR) * SECTOR), b"\0")
    stream_sectors = len(stream) // SECTOR
    # Sectors: 0 FAT, 1 directory, 2.. the Workbook stream.
    fat = [FATSECT, ENDOFCHAIN]
    fat += [3 + i if i < stream_sectors - 1 else ENDOFCHAIN for i in range(stream_sectors)]
    assert len(fat) <= SECTOR // 4, "test files stay small"
    fat += [FREESECT] * (SECTOR // 4 - len(fat))
    directory = _entry("Root Entry", 5, ENDOFCHAIN, 0, child=1)
    # At least 4096 bytes: a smaller stream would live in the mini stream.
    directory += _entry("Workbook", 2, 2, len(stream))
    directory = directory.ljust(SECTOR, b"\0")
    header = (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIII", 0, 1, 1, 0)  # dir sectors, FAT sectors, first dir sector, txn
        + struct.pack("<IIIII", 4096, ENDOFCHAIN, 0, ENDOFCHAIN, 0)
        + struct.pack("<I", 0)  # the one FAT sector
        + struct.pack("<I", FREESECT) * 108
    )
    assert len(header) == SECTOR
    return header + struct.pack(f"<{SECTOR // 4}I", *fat) + directory + stream
