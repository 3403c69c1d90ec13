"""Which format a call-log file is in, from its first lines (issue 15).

``detect(head)`` reads the first bytes of a file and answers the format
whose header (or, for the header-less logs, line shape) it has; a file no
parser reads raises :class:`FileRejected` with one message saying what it
looks like (an Excel workbook, a PDF, an Excel-resaved CSV, another PBX's
export) and what to export instead.
"""

from __future__ import annotations

import csv
import re

from django.utils.translation import gettext as _

from telephony.parsers import FileRejected
from telephony.parsers.tabular import norm

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_SLASHED = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}$")
_EXCEL_DATE = re.compile(r"^\d{4}[/-]\d{1,2}[/-]\d{1,2} \d{1,2}:\d{2}$")
_SCIENTIFIC = re.compile(r"^[+-]?\d(\.\d+)?[eE][+-]?\d+$")
_RECORDING = re.compile(r"-\d{8}-\d{6}-[^,]*\.(wav|mp3|gsm|ogg|WAV)\s*$")

SIGNATURES = {
    b"PK\x03\x04": "xlsx",
    b"\xd0\xcf\x11\xe0": "xls",
    b"%PDF": "pdf",
}


def _excel(kind):
    return FileRejected(
        _(
            "This is an Excel workbook (.%(kind)s), not a call log: export the CDR from the "
            "PBX as CSV (FreePBX/Issabel: CDR Reports → CSV; Yeastar and 3CX: Download as "
            "CSV), or copy Master.csv from the PBX unchanged."
        )
        % {"kind": kind}
    )


def _decode(line: bytes) -> str:
    line = line.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
    for encoding in ("utf-8", "gb18030"):
        try:
            return line.decode(encoding)
        except UnicodeDecodeError:
            continue
    return line.decode("latin-1")


def detect(head: bytes) -> str:
    """The format of a file starting with ``head`` (a few kilobytes)."""
    for signature, kind in SIGNATURES.items():
        if head.startswith(signature):
            if kind == "pdf":
                raise FileRejected(
                    _(
                        "This is a PDF report, which cannot be read back: export the CDR "
                        "from the PBX as CSV instead."
                    )
                )
            raise _excel(kind)
    lines = [line for line in head.split(b"\n")[:5] if line.strip()]
    if not lines:
        raise FileRejected(_("The file is empty."))
    first = _decode(lines[0])
    if first.lstrip().startswith("<"):
        raise FileRejected(
            _(
                "This is a web page (HTML), not a CSV file: choose CSV in the PBX's "
                "CDR download instead of HTML."
            )
        )
    try:
        row = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        row = [first]
    names = {norm(cell) for cell in row}
    if "calldate" in names or names >= {"src", "dst", "disposition"}:
        return "freepbx_web"
    if (norm("Src. Channel") in names or "来源频道" in names) and (
        "duration" in names or "时长" in names
    ):
        return "freepbx_web"
    if {norm("Call From"), norm("Call To")} <= names or {"callfrom", "callto"} <= names:
        return "yeastar"
    if {"主叫", "被叫", "通讯类型"} <= names:
        return "yeastar"
    if "historyid" in names or norm("time-start") in names:
        return "threecx"
    if {norm("Call Time"), norm("Caller ID")} <= names:
        return "threecx"
    if "file" in names and ("start" in names or "channel" in names):
        return "card_index"
    cells = [cell.strip() for cell in row]
    if 16 <= len(cells) <= 21:
        if _ISO.match(cells[9]):
            return "asterisk_csv"
        if _EXCEL_DATE.match(cells[9]) or any(_SCIENTIFIC.match(cell) for cell in cells):
            raise _resaved()
    if len(cells) == 15 and (_ISO.match(cells[4]) or not cells[4]) and cells[9].isupper():
        return "freeswitch_csv"
    if len(cells) >= 20 and _SLASHED.match(cells[3]):
        return "threecx"
    if any(_SCIENTIFIC.match(cell) for cell in cells) or any(
        _EXCEL_DATE.match(cell) for cell in cells
    ):
        raise _resaved()
    if _RECORDING.search(first):
        raise FileRejected(
            _("This is a list of recording file names, not a call log: import it as recordings.")
        )
    raise FileRejected(
        _(
            "This file is not a call log DCC can read (first line: %(line)s). Known: "
            "Asterisk Master.csv, FreePBX/Issabel CDR report CSV, Yeastar CDR CSV, 3CX CDR "
            "log or call log, FreeSWITCH cdr_csv. Export one of these, or set up a call-log "
            "source with a column map."
        )
        % {"line": first[:160]}
    )


def _resaved():
    return FileRejected(
        _(
            "This CSV was opened and saved again in Excel or WPS: its dates lost their "
            "seconds or its long numbers became scientific notation (8.61392E+12), so calls "
            "would merge or lose their numbers. Copy the file from the PBX again and import "
            "it without opening it in Excel."
        )
    )


def detect_file(fileobj) -> str:
    """detect() on a seekable binary file, which is left at its start."""
    fileobj.seek(0)
    head = fileobj.read(8192)
    fileobj.seek(0)
    if isinstance(head, str):
        head = head.encode()
    return detect(head)
