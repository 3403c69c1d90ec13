"""Asterisk/FreePBX ``cdr_csv`` Master.csv: the reference call-log format.

No header row. The 16 base columns, then ``uniqueid``/``userfield`` (when
``loguniqueid``/``loguserfield`` are on), then ``peeraccount``, ``linkedid``,
``sequence`` (``newcdrcolumns``), TELEPHONY.md. With ``config.columns`` None
the layout is chosen from each row's column count; a 17- or 20-column file is
read as having ``uniqueid`` (``loguniqueid`` alone is the common setting): a
source with ``loguserfield`` alone, or a ``cdr_custom`` order, gives its
column map instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import itemgetter

from django.utils.translation import gettext as _

from dcc.timeutils import EARLIEST, LATEST
from telephony.parsers import (
    ANSWERED,
    BUSY,
    CONGESTION,
    FAILED,
    MAX_SECONDS,
    NO_ANSWER,
    OUTBOUND,
    CallLeg,
    FileRejected,
    ParseError,
    SourceConfig,
    TimeOutOfRange,
    content_key,
    direction_and_parties,
    external_number,
    iter_rows,
    time_reader,
)

BASE = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
)
NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")
LAYOUTS = {
    16: BASE,
    17: (*BASE, "uniqueid"),
    18: (*BASE, "uniqueid", "userfield"),
    19: (*BASE, *NEW_COLUMNS),
    20: (*BASE, "uniqueid", *NEW_COLUMNS),
    21: (*BASE, "uniqueid", "userfield", *NEW_COLUMNS),
}
REQUIRED = ("src", "dst", "channel", "start", "end", "duration", "billsec", "disposition")

# CANCEL (the caller gave up while it rang) is an unanswered call; UNKNOWN is
# what Asterisk writes when it has no better word: a failed call.
DISPOSITIONS = {
    "ANSWERED": ANSWERED,
    "ANSWER": ANSWERED,
    "NO ANSWER": NO_ANSWER,
    "NOANSWER": NO_ANSWER,
    "NO_ANSWER": NO_ANSWER,
    "CANCEL": NO_ANSWER,
    "BUSY": BUSY,
    "FAILED": FAILED,
    "UNKNOWN": FAILED,
    "CONGESTION": CONGESTION,
}


def column_counts(counts: list[int]) -> str:
    """The column counts a file may have, as a reader writes them: "16–21"
    for a run, "16, 18" otherwise (never "16 or 17 or …" pasted in a
    sentence)."""
    if len(counts) > 2 and counts == list(range(counts[0], counts[-1] + 1)):
        return f"{counts[0]}–{counts[-1]}"
    return ", ".join(str(count) for count in counts)


def _indexes(columns: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(columns) if name}


# The fields _leg() reads, in this order; a layout without one reads "".
FIELDS = (
    "src",
    "dst",
    "clid",
    "channel",
    "dstchannel",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "uniqueid",
    "linkedid",
    "sequence",
    "lastapp",
    "lastdata",
)


def _layout(at: dict[str, int], width: int) -> Callable[[list[str]], tuple[str, ...]]:
    """FIELDS out of a row: each one's column, or ``width`` (one past the
    row, where _leg puts an empty string) for a field the layout lacks."""
    return itemgetter(*(at.get(name, width) for name in FIELDS))


def parse(fileobj, config: SourceConfig) -> Iterator[CallLeg | ParseError]:
    """One CallLeg per good CDR line, one ParseError per bad one."""
    if config.columns is not None:
        fixed = _indexes(config.columns)
        missing = [name for name in REQUIRED if name not in fixed]
        if missing:
            raise FileRejected(
                _("The column map lacks %(missing)s") % {"missing": ", ".join(missing)}
            )
        layouts = {len(config.columns): _layout(fixed, len(config.columns))}
    else:
        layouts = {count: _layout(_indexes(columns), count) for count, columns in LAYOUTS.items()}
    expected = column_counts(sorted(layouts))
    read_time = time_reader(config.zone)
    numbers: dict = {}  # the file's numbers normalised so far (external_number)
    for item in iter_rows(fileobj):
        if item.__class__ is ParseError:
            yield item
            continue
        number, row = item
        layout = layouts.get(len(row))
        if layout is None:
            yield ParseError(
                number,
                _("%(count)s columns, expected %(expected)s")
                % {"count": len(row), "expected": expected},
            )
            continue
        try:
            yield _leg(number, row, layout, config, read_time, numbers)
        except ValueError as error:
            yield ParseError(number, str(error))


def check_not_scientific(name: str, text: str) -> None:
    from telephony.parsers.tabular import check_not_scientific as check

    check(name, text)


def _empty(name: str) -> ValueError:
    return ValueError(_("%(field)s is empty") % {"field": name})


def _not_a_time(name: str, text: str) -> ValueError:
    return ValueError(
        _("%(field)s is not a date and time: %(value)s") % {"field": name, "value": repr(text)}
    )


def _time(read_time, name: str, text: str):
    """The time in field ``name`` (None when empty); a ValueError naming the
    field when it is not one, or not within the years DCC keeps."""
    if not text:
        return None
    try:
        return read_time(text)
    except TimeOutOfRange:
        raise ValueError(
            _("%(field)s is out of range: %(value)s (years %(earliest)s to %(latest)s)")
            % {
                "field": name,
                "value": repr(text),
                "earliest": EARLIEST.year,
                "latest": LATEST.year - 1,
            }
        ) from None
    except ValueError:
        raise _not_a_time(name, text) from None


def _seconds(text: str, name: str) -> int:
    if text.isdecimal() and len(text) < 6:  # nearly every one: under a week
        return int(text)
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            _("%(field)s is not a whole number of seconds: %(value)s")
            % {"field": name, "value": repr(text)}
        ) from None
    if value < 0:
        raise ValueError(_("%(field)s is negative: %(value)s") % {"field": name, "value": value})
    if value > MAX_SECONDS:
        raise ValueError(
            _("%(field)s is more than a week: %(value)s seconds") % {"field": name, "value": value}
        )
    return value


def _leg(number, row, layout, config, read_time, numbers) -> CallLeg:
    raw = tuple(row)
    row.append("")  # what a field the layout lacks reads
    (
        src,
        dst,
        clid,
        channel,
        dstchannel,
        start,
        answer,
        end,
        duration,
        billsec,
        written,
        uniqueid,
        linkedid,
        sequence,
        lastapp,
        lastdata,
    ) = layout(row)
    if "+" in src or "+" in dst:  # Excel's 8.61392E+12 (or an E.164 number)
        for name, text in (("src", src), ("dst", dst)):
            check_not_scientific(name, text)
    if uniqueid.isdigit() and len(uniqueid) >= 9:
        # Asterisk writes <epoch>.<sequence>: an epoch alone is what Excel
        # leaves, and two calls of one second would merge into one.
        raise ValueError(
            _(
                "uniqueid %(value)s has lost its part after the dot (the file was re-saved "
                "by Excel): copy Master.csv from the PBX again"
            )
            % {"value": repr(uniqueid)}
        )
    disposition = DISPOSITIONS.get(written) or DISPOSITIONS.get(written.strip().upper())
    if disposition is None:
        raise ValueError(_("unknown disposition %(value)s") % {"value": repr(written)})
    try:  # the usual case first (an empty start or end is no time either)
        started_at = read_time(start)
        answered_at = read_time(answer) if answer else None
        ended_at = read_time(end)
    except ValueError:  # which field is wrong, and how, in the fields' order
        started_at = _time(read_time, "start", start)
        if started_at is None:
            raise _empty("start") from None
        answered_at = _time(read_time, "answer", answer)
        ended_at = _time(read_time, "end", end)
        if ended_at is None:
            raise _empty("end") from None
    if ended_at < started_at:
        raise ValueError(
            _("end is before start: %(end)s < %(start)s") % {"end": end, "start": start}
        )
    if (ended_at - started_at).total_seconds() > MAX_SECONDS:
        raise ValueError(
            _("the call lasts more than a week: %(start)s to %(end)s")
            % {"start": start, "end": end}
        )
    direction, extension, customer = direction_and_parties(
        config, src, dst, channel, dstchannel, clid
    )
    e164 = (
        external_number(customer, config, dialled=direction == OUTBOUND, seen=numbers)
        if customer
        else None
    )
    # Without a sequence, a uniqueid may be shared by several CDRs (forked or
    # transferred legs): only uniqueid + linkedid + sequence name one CDR.
    key = f"cdr:{linkedid}:{uniqueid}:{sequence}" if uniqueid and sequence else content_key(raw)
    return CallLeg(
        number,
        key,
        uniqueid,
        linkedid,
        sequence,
        started_at,
        answered_at,
        ended_at,
        _seconds(duration, "duration"),
        _seconds(billsec, "billsec"),
        disposition,
        direction,
        extension,
        e164,
        customer,
        src,
        dst,
        clid,
        channel,
        dstchannel,
        raw,
        lastapp,
        lastdata,
    )
