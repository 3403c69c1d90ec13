"""What the vendor CDR exports share: a header row naming the columns, times
in the PBX's display layout, durations written for people (``0:02:30``,
``2m 30s``, ``2分30秒``), parties written ``Name<8001>`` or ``Name (8001)``.

Each vendor module (freepbx_web, yeastar, threecx, freeswitch_csv) maps its
columns to the fields it needs with :class:`Header` and builds its legs with
:func:`vendor_leg`, so every format fills the same CallLeg (and so the same
answered_by, ring, wait, talk and extensions, ``merge_legs``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.utils.translation import gettext as _

from telephony.parsers import (
    ANSWERED,
    INBOUND,
    INTERNAL,
    MAX_SECONDS,
    OUTBOUND,
    CallLeg,
    FileRejected,
    SourceConfig,
    TimeOutOfRange,
    direction_and_parties,
    external_number,
    time_reader,
)


def norm(name: str) -> str:
    """A header cell compared loosely: case, spaces, punctuation ignored."""
    return re.sub(r"[\s_\-./()&:：（）]+", "", name.strip().lower().removeprefix("\ufeff"))


class Header:
    """Column positions of one export, from its header row and the format's
    ``aliases`` (field → the names vendors write, English and Chinese)."""

    def __init__(self, row: list[str], aliases: dict[str, tuple[str, ...]], required, *, what):
        names = [norm(cell) for cell in row]
        self.width = len(row)
        self.at: dict[str, int] = {}
        for field_name, alternatives in aliases.items():
            for alternative in alternatives:
                key = norm(alternative)
                if key in names:
                    self.at[field_name] = names.index(key)
                    break
        missing = [name for name in required if name not in self.at]
        if missing:
            raise FileRejected(
                _(
                    "This is not a %(what)s export: its header lacks %(missing)s "
                    "(first line: %(header)s)."
                )
                % {
                    "what": what,
                    "missing": ", ".join(missing),
                    "header": ", ".join(row)[:200],
                }
            )

    def get(self, row: list[str], name: str) -> str:
        index = self.at.get(name)
        if index is None or index >= len(row):
            return ""
        return row[index].strip()


_SCIENTIFIC = re.compile(r"^[+-]?\d(\.\d+)?[eE][+-]?\d+$")


def check_not_scientific(name: str, text: str) -> None:
    """Excel writes long numbers as ``8.61392E+12``: the digits are lost."""
    if _SCIENTIFIC.match(text.strip()):
        raise ValueError(
            _(
                "%(field)s is a number in scientific notation (%(value)s): the file was "
                "re-saved by Excel and the number is lost; export it again from the PBX"
            )
            % {"field": name, "value": text}
        )


_HMS = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")
_WORDS = re.compile(
    r"^(?:(\d+)\s*(?:h|hr|hrs|hour|hours|小时|时)\s*)?"
    r"(?:(\d+)\s*(?:m|min|mins|minute|minutes|分钟|分)\s*)?"
    r"(?:(\d+)\s*(?:s|sec|secs|second|seconds|秒)?)?$",
    re.IGNORECASE,
)


def seconds(text: str, name: str) -> int:
    """``150``, ``0:02:30``, ``02:30``, ``2m 30s``, ``2分30秒`` → 150."""
    text = text.strip()
    if not text:
        return 0
    check_not_scientific(name, text)
    if text.isdigit():
        value = int(text)
    else:
        match = _HMS.match(text) or _WORDS.match(text)
        if match is None or not any(match.groups()):
            raise ValueError(
                _("%(field)s is not a duration: %(value)s") % {"field": name, "value": repr(text)}
            )
        hours, minutes, secs = (int(part or 0) for part in match.groups())
        value = hours * 3600 + minutes * 60 + secs
    if value > MAX_SECONDS:
        raise ValueError(
            _("%(field)s is more than a week: %(value)s seconds") % {"field": name, "value": value}
        )
    return value


DATE_ORDERS = ("ymd", "dmy", "mdy")
_DATE = re.compile(
    r"^(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?"
    r"\s*([AaPp][Mm])?$"
)


def time_parser(config: SourceConfig):
    """A reader of the PBX's displayed times in ``config.tz``: ISO first,
    else day, month and year in ``config.date_order`` (a 4-digit first part
    is always the year), a 12-hour clock with AM/PM, seconds optional."""
    fast = time_reader(config.zone)
    order = config.date_order

    def read(name: str, text: str) -> datetime | None:
        text = text.strip()
        if not text:
            return None
        try:
            if len(text) == 19 and text[4] == "-":
                return fast(text)
            match = _DATE.match(text)
            if match is None:
                raise ValueError
            a, b, c, hour, minute, second, half = match.groups()
            if len(a) == 4:
                year, month, day = a, b, c
            elif order == "dmy":
                day, month, year = a, b, c
            else:  # mdy (a ymd source never writes a 2-digit first part)
                month, day, year = a, b, c
            hour = int(hour)
            if half:
                hour = hour % 12 + (12 if half.lower() == "pm" else 0)
            # Validated (31/02 is a ValueError), then read in the source's zone.
            moment = datetime(
                int(year), int(month), int(day), hour, int(minute), int(second or 0), tzinfo=UTC
            )
            return fast(moment.strftime("%Y-%m-%d %H:%M:%S"))
        except TimeOutOfRange:
            raise ValueError(
                _("%(field)s is out of range: %(value)s") % {"field": name, "value": repr(text)}
            ) from None
        except ValueError:
            raise ValueError(
                _("%(field)s is not a date and time: %(value)s")
                % {"field": name, "value": repr(text)}
            ) from None

    return read


_ANGLE = re.compile(r"^(.*?)\s*<\s*([^<>]*)\s*>$")
_PAREN = re.compile(r"^(.*?)\s*[(（]\s*([+\d*#]+)\s*[)）]$")


def party(text: str) -> tuple[str, str]:
    """(number, name) of ``Alice<8001>``, ``"Alice" <8001>``, ``Alice (8001)``,
    ``Ext.610``, ``8001``."""
    text = text.strip()
    match = _ANGLE.match(text) or _PAREN.match(text)
    if match:
        return match.group(2).strip(), match.group(1).strip().strip('"')
    low = text.lower()
    for prefix in ("ext.", "ext ", "分机"):
        if low.startswith(prefix):
            return text[len(prefix) :].strip(), ""
    return text, ""


def vendor_leg(
    number: int,
    raw: tuple[str, ...],
    config: SourceConfig,
    *,
    vendor: str,
    key: str,
    uniqueid: str,
    linkedid: str,
    sequence: str,
    started_at: datetime,
    answered_at: datetime | None,
    ended_at: datetime,
    duration: int,
    billsec: int,
    disposition: str,
    caller: str,
    callee: str,
    clid: str = "",
    direction: str | None = None,
    reached_phone: bool = True,
    lastapp: str = "",
    lastdata: str = "",
) -> CallLeg:
    """A CallLeg of an export that names parties, not channels: each party
    gets a channel ``<vendor>/<number>`` so the Asterisk rules apply
    unchanged; ``reached_phone`` False (voicemail, IVR, a queue nobody took)
    leaves the destination channel empty, so the leg counts as the PBX's.
    ``direction``: the export's own word when it has one."""
    if ended_at < started_at:
        raise ValueError(_("end is before start"))
    channel = f"{vendor}/{caller}" if caller else ""
    dstchannel = f"{vendor}/{callee}" if callee and reached_phone else ""
    if direction is None:
        direction, extension, customer = direction_and_parties(
            config, caller, callee, channel, f"{vendor}/{callee}" if callee else "", clid
        )
    elif direction == INBOUND:
        extension = callee if config.is_extension(callee) else None
        customer = caller
    elif direction == OUTBOUND:
        extension = caller if config.is_extension(caller) else None
        customer = callee
    else:
        direction, extension, customer = INTERNAL, caller or None, ""
    if disposition != ANSWERED:
        answered_at = None
        billsec = 0
    return CallLeg(
        number,
        key,
        uniqueid,
        linkedid,
        sequence,
        started_at,
        answered_at,
        ended_at,
        duration,
        billsec,
        disposition,
        direction,
        extension,
        external_number(customer, config, dialled=direction == OUTBOUND) if customer else None,
        customer,
        caller,
        callee,
        clid,
        channel,
        dstchannel,
        raw,
        lastapp or ("Dial" if reached_phone else ""),
        lastdata,
    )


def after(moment: datetime, secs: int) -> datetime:
    return moment + timedelta(seconds=secs)


def rows_after_header(fileobj, aliases, required, *, what):
    """(line number, row, Header) per data row of a headed export; the first
    readable row is the header (FileRejected when it is not this format's),
    bad lines are ParseErrors."""
    from telephony.parsers import ParseError, iter_rows

    header = None
    for item in iter_rows(fileobj):
        if item.__class__ is ParseError:
            yield item
            continue
        number, row = item
        if header is None:
            header = Header(row, aliases, required, what=what)
            continue
        yield number, row, header


def each_leg(items, build):
    """build(number, row, header) per row, a ParseError when it fails."""
    from telephony.parsers import ParseError

    for item in items:
        if item.__class__ is ParseError:
            yield item
            continue
        number, row, header = item
        try:
            yield build(number, row, header)
        except ValueError as error:
            if isinstance(error, FileRejected):
                raise
            yield ParseError(number, str(error))
