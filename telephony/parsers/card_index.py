"""A recording card's index (Synway 三汇, Donjin 东进 recorder software) as CSV.

Each integrator's recorder writes its own table (TELEPHONY.md), so the
columns come from a header row (``config.columns`` None) or the column map.
Known columns: channel, direction, caller, callee, start, duration, file
(extra columns are ignored). The card records the trunk lines, so the agent's
extension comes from ``config.channel_extensions`` (card channel → extension).
Direction words: in/inbound/呼入/来电, out/outbound/呼出/去电,
internal/内部; when the column is absent or empty, the numbers' shapes decide
(an extension-shaped caller calls out). Duration: seconds or ``HH:MM:SS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from telephony.parsers import (
    ANSWERED,
    CARD,
    INBOUND,
    INTERNAL,
    MAX_SECONDS,
    NO_ANSWER,
    OUTBOUND,
    CallLeg,
    ParseError,
    SourceConfig,
    content_key,
    external_number,
    iter_rows,
    parse_time,
)

COLUMNS = ("channel", "direction", "caller", "callee", "start", "duration", "file")
REQUIRED = ("start", "file")
DIRECTIONS = {
    "in": INBOUND,
    "inbound": INBOUND,
    "i": INBOUND,
    "呼入": INBOUND,
    "来电": INBOUND,
    "out": OUTBOUND,
    "outbound": OUTBOUND,
    "o": OUTBOUND,
    "呼出": OUTBOUND,
    "去电": OUTBOUND,
    "internal": INTERNAL,
    "内部": INTERNAL,
    "内线": INTERNAL,
    # A transferred or three-party call: the numbers' shapes decide.
    "转移": "",
    "转接": "",
    "三方": "",
    "transfer": "",
    "conference": "",
}


@dataclass(frozen=True, slots=True)
class CardRecording:
    line: int
    key: str  # content key of the row
    channel: str
    direction: str
    caller: str
    callee: str
    started_at: datetime
    duration: int | None
    file: str
    extension: str | None
    external_number: str | None
    external_raw: str
    raw: tuple[str, ...]


def _not_seconds(text: str) -> str:
    return _("%(field)s is not seconds or HH:MM:SS: %(value)s") % {
        "field": "duration",
        "value": repr(text),
    }


def _seconds(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if ":" in text:
        parts = text.split(":")
        if len(parts) > 3 or not all(part.isascii() and part.isdigit() for part in parts):
            raise ValueError(_not_seconds(text))
        total = 0
        for part in parts:
            total = total * 60 + int(part)
    else:
        try:
            total = int(text)  # a negative one is refused with its file, on import
        except ValueError:
            raise ValueError(_not_seconds(text)) from None
    if total > MAX_SECONDS:
        raise ValueError(
            _("%(field)s is more than a week: %(value)s seconds")
            % {"field": "duration", "value": total}
        )
    return total


def parse(fileobj, config: SourceConfig) -> Iterator[CardRecording | ParseError]:
    at, width = None, 0
    if config.columns is not None:
        at = {name: i for i, name in enumerate(config.columns) if name in COLUMNS}
        width = len(config.columns)
    zone = config.zone
    for item in iter_rows(fileobj):
        if isinstance(item, ParseError):
            yield item
            continue
        number, row = item
        if at is None:
            names = [name.strip().lower() for name in row]
            at = {name: i for i, name in enumerate(names) if name in COLUMNS}
            width = len(row)
            missing = [name for name in REQUIRED if name not in at]
            if missing:
                yield ParseError(
                    number,
                    _(
                        "the header lacks %(missing)s (known columns: %(known)s): "
                        "the file is not read"
                    )
                    % {"missing": ", ".join(missing), "known": ", ".join(COLUMNS)},
                )
                return
            continue
        if len(row) != width:
            yield ParseError(
                number,
                _("%(count)s columns, expected %(expected)s")
                % {"count": len(row), "expected": width},
            )
            continue
        try:
            yield _record(number, row, at, config, zone)
        except ValueError as error:
            yield ParseError(number, str(error))


def _record(number, row, at, config, zone) -> CardRecording:
    def value(name):
        return row[at[name]].strip() if name in at else ""

    file = value("file")
    if not file:
        raise ValueError(_("%(field)s is empty") % {"field": "file"})
    start = value("start")
    try:
        started_at = parse_time(start, zone)
    except ValueError:
        raise ValueError(
            _("%(field)s is not a date and time: %(value)s")
            % {"field": "start", "value": repr(start)}
        ) from None
    channel, caller, callee = value("channel"), value("caller"), value("callee")
    if config.caller_prefix_chars and len(caller) > config.caller_prefix_chars:
        caller = caller[config.caller_prefix_chars :]
    written = value("direction")
    direction = DIRECTIONS.get(written.lower()) if written else None
    if written and direction is None:
        raise ValueError(_("unknown direction %(value)s") % {"value": repr(written)})
    is_ext = config.is_extension
    if not direction and is_ext(caller):
        direction = INTERNAL if is_ext(callee) else OUTBOUND
    elif not direction:
        direction = INBOUND
    extension = config.channel_extensions.get(channel)
    if direction == INBOUND:
        customer = caller
        extension = extension or (callee if is_ext(callee) else None)
    elif direction == OUTBOUND:
        customer = callee
        extension = extension or (caller if is_ext(caller) else None)
    else:
        customer = ""
        extension = extension or (caller if is_ext(caller) else None)
    raw = tuple(row)
    return CardRecording(
        line=number,
        key=content_key(raw),
        channel=channel,
        direction=direction,
        caller=caller,
        callee=callee,
        started_at=started_at,
        duration=_seconds(value("duration")),
        file=file,
        extension=extension,
        external_number=(
            external_number(customer, config, dialled=direction == OUTBOUND) if customer else None
        ),
        external_raw=customer,
        raw=raw,
    )


# ---------------------------------------------------------------- calls from the index


def call_leg(record: CardRecording) -> CallLeg:
    """A store with a recording card and no PBX log (seed 001's analog
    switch): each index row is a call. The card records a line while it is
    off-hook, so a recording with seconds in it is a call an agent (the
    channel's extension) answered, one of 0 s a call nobody answered. The
    card knows no ring time: the call's ring and wait stay empty."""
    seconds = record.duration or 0
    started = record.started_at
    answered = seconds > 0
    return CallLeg(
        record.line,
        "card:" + record.key.removeprefix("row:"),
        "",
        "",
        "",
        started,
        started if answered else None,
        started + timedelta(seconds=seconds),
        seconds,
        seconds if answered else 0,
        ANSWERED if answered else NO_ANSWER,
        record.direction,
        record.extension,
        record.external_number,
        record.external_raw,
        record.caller,
        record.callee,
        "",
        f"card/{record.channel}" if record.channel else "",
        "",
        record.raw,
        CARD,
        record.channel,
    )


def call_legs(items: Iterable) -> Iterator:
    """parse()'s records as call legs (ParseErrors as they are)."""
    for item in items:
        if item.__class__ is ParseError:
            yield item
        elif item.duration is not None and item.duration < 0:
            yield ParseError(
                item.line,
                _("%(field)s is negative: %(value)s")
                % {"field": "duration", "value": item.duration},
            )
        else:
            yield call_leg(item)
