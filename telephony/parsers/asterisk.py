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

from collections.abc import Iterator

from telephony.parsers import (
    ANSWERED,
    BUSY,
    CONGESTION,
    FAILED,
    NO_ANSWER,
    CallLeg,
    ParseError,
    SourceConfig,
    content_key,
    direction_and_parties,
    external_number,
    iter_rows,
    parse_time,
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


def _indexes(columns: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(columns) if name}


def parse(fileobj, config: SourceConfig) -> Iterator[CallLeg | ParseError]:
    """One CallLeg per good CDR line, one ParseError per bad one."""
    if config.columns is not None:
        fixed = _indexes(config.columns)
        missing = [name for name in REQUIRED if name not in fixed]
        if missing:
            raise ValueError(f"The column map lacks {', '.join(missing)}")
        layouts = {len(config.columns): fixed}
    else:
        layouts = {count: _indexes(columns) for count, columns in LAYOUTS.items()}
    expected = " or ".join(str(count) for count in sorted(layouts))
    zone = config.zone
    for item in iter_rows(fileobj):
        if isinstance(item, ParseError):
            yield item
            continue
        number, row = item
        at = layouts.get(len(row))
        if at is None:
            yield ParseError(number, f"{len(row)} columns, expected {expected}")
            continue
        try:
            yield _leg(number, row, at, config, zone)
        except ValueError as error:
            yield ParseError(number, str(error))


def _field(row, at, name) -> str:
    index = at.get(name)
    return row[index] if index is not None else ""


def _time(row, at, name, zone, *, required=True):
    index = at.get(name)
    text = row[index] if index is not None else ""
    if not text:
        if required:
            raise ValueError(f"{name} is empty")
        return None
    try:
        return parse_time(text, zone)
    except ValueError:
        raise ValueError(f"{name} is not a date and time: {text!r}") from None


def _seconds(row, at, name):
    text = row[at[name]]
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} is not a whole number of seconds: {text!r}") from None
    if value < 0:
        raise ValueError(f"{name} is negative: {value}")
    return value


def _leg(number, row, at, config, zone) -> CallLeg:
    written = row[at["disposition"]]
    disposition = DISPOSITIONS.get(written) or DISPOSITIONS.get(written.strip().upper())
    if disposition is None:
        raise ValueError(f"unknown disposition {written!r}")
    started_at = _time(row, at, "start", zone)
    answered_at = _time(row, at, "answer", zone, required=False)
    ended_at = _time(row, at, "end", zone)
    duration = _seconds(row, at, "duration")
    billsec = _seconds(row, at, "billsec")
    src, dst = row[at["src"]], row[at["dst"]]
    channel, dstchannel = row[at["channel"]], _field(row, at, "dstchannel")
    clid = _field(row, at, "clid")
    direction, extension, customer = direction_and_parties(
        config, src, dst, channel, dstchannel, clid
    )
    uniqueid = _field(row, at, "uniqueid")
    linkedid = _field(row, at, "linkedid")
    sequence = _field(row, at, "sequence")
    raw = tuple(row)
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
        duration,
        billsec,
        disposition,
        direction,
        extension,
        external_number(customer, config, dialled=direction == "outbound") if customer else None,
        customer,
        src,
        dst,
        clid,
        channel,
        dstchannel,
        raw,
    )
