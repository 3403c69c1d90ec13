"""Call-log and recording parsers: one module per format behind one interface.

Every format module exposes ``parse(fileobj, config)``, a generator over a
binary (or text) file object that yields one record per good line and a
:class:`ParseError` (line number, message) per bad one, so one bad line never
loses the good lines around it. Nothing here touches the database: the
importer (a later step) turns records into rows and makes re-imports
idempotent with :attr:`CallLeg.key`.

Formats (TELEPHONY.md):

- ``asterisk_csv``: Asterisk/FreePBX ``cdr_csv`` Master.csv, the reference;
  yields :class:`CallLeg` (one CDR each); :func:`group_calls` merges the legs
  of one call (same ``linkedid``) into a :class:`Call`.
- ``freepbx_recordings``: FreePBX call-recording file names, one per line
  (a directory listing); yields ``RecordingName``.
- ``card_index``: a recording card's index CSV; yields ``CardRecording``.

Decoding is per file and streaming: lines are read as bytes and decoded as
UTF-8 (a BOM is dropped) until a line is not UTF-8, then as GB18030 (a superset
of GBK, what Chinese Windows tools write) for the rest of the file. A line that
is neither is reported as a ParseError and skipped.
"""

from __future__ import annotations

import csv
import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from dcc.timeutils import EARLIEST, LATEST, in_range
from leads.phones_fast import try_normalize_fast

INBOUND, OUTBOUND, INTERNAL = "inbound", "outbound", "internal"
ANSWERED, NO_ANSWER, BUSY, FAILED, CONGESTION = (
    "ANSWERED",
    "NO ANSWER",
    "BUSY",
    "FAILED",
    "CONGESTION",
)
FORMATS = ("asterisk_csv", "freepbx_recordings", "card_index")
# The longest call (or recording) a line may give: longer is a fault of the
# log, and beyond PostgreSQL's integer columns (2³¹ − 1 seconds) anyway.
MAX_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class SourceConfig:
    """How one call-log source writes its files (one per PBX / card / export).

    ``columns``: the field names in file order (``""`` for a column to ignore),
    or None for the format's reference layout (Master.csv: chosen from the
    column count; card index: a header row names the columns).
    ``tz``: the zone the times are written in (Asterisk writes PBX local time
    unless ``usegmtime=yes``). ``dial_prefixes``: outside-line prefixes that
    agents dial before a number (tried longest first). ``area_code``: the
    store's, prepended to local landlines written without one.
    ``extension_lengths``: how many digits an internal extension has.
    ``channel_extensions``: recording-card channel → extension.
    ``caller_prefix_chars``: characters to drop before the caller's number
    (Donjin cards write ``MMDDhhmm`` first).
    """

    format: str = "asterisk_csv"
    columns: tuple[str, ...] | None = None
    tz: str = "UTC"
    dial_prefixes: tuple[str, ...] = ("9",)
    area_code: str = ""
    extension_lengths: tuple[int, int] = (3, 4)
    channel_extensions: dict[str, str] = field(default_factory=dict, hash=False)
    caller_prefix_chars: int = 0

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(
                _("Unknown call-log format %(format)s; known: %(known)s")
                % {"format": repr(self.format), "known": ", ".join(FORMATS)}
            )
        ZoneInfo(self.tz)  # fail on a misspelt zone now, not on the first row

    @property
    def zone(self) -> tzinfo:
        return _zone(self.tz)

    def is_extension(self, text: str) -> bool:
        low, high = self.extension_lengths
        return low <= len(text) <= high and text.isdigit()


@dataclass(frozen=True)
class ParseError:
    """A bad line: reported with its number, the good lines are kept."""

    line: int
    message: str

    def __str__(self):
        return f"line {self.line}: {self.message}"


@dataclass(slots=True)
class CallLeg:
    """One CDR: one leg of a call. Times are aware datetimes in UTC."""

    line: int
    key: str  # identity for idempotent re-imports, see content_key()
    uniqueid: str
    linkedid: str
    sequence: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    duration: int
    billsec: int
    disposition: str  # ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION
    direction: str  # inbound, outbound or internal
    extension: str | None  # the agent's (local) side
    external_number: str | None  # the customer's number in E.164
    external_raw: str  # the customer's number as the PBX wrote it
    src: str
    dst: str
    clid: str
    channel: str
    dstchannel: str
    raw: tuple[str, ...]

    @property
    def answered(self) -> bool:
        return self.disposition == ANSWERED

    @property
    def call_key(self) -> str:
        return self.linkedid or self.uniqueid or self.key


@dataclass(slots=True)
class Call:
    """The legs of one call (same linkedid) merged. See group_calls()."""

    key: str
    legs: list[CallLeg]
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    duration: int  # first start to last end, seconds
    billsec: int  # talk time with the customer, seconds
    disposition: str
    direction: str
    extension: str | None
    extensions: tuple[str, ...]  # every agent extension that answered, in order
    external_number: str | None
    external_raw: str

    @property
    def answered(self) -> bool:
        return self.disposition == ANSWERED


# ---------------------------------------------------------------- reading lines


def iter_lines(fileobj) -> Iterator[tuple[int, str] | ParseError]:
    """(line number, text without its line ending) per physical line, or a
    ParseError for a line whose bytes are neither UTF-8 nor GB18030 or that
    holds a NUL byte (no text has one; the database refuses it).
    A text-mode file object is read as is.
    """
    encoding = "utf-8"
    for number, line in enumerate(fileobj, start=1):
        if isinstance(line, str):
            if number == 1:
                line = line.removeprefix("\ufeff")
            text = line.rstrip("\r\n")
        else:
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            line = line.rstrip(b"\r\n")
            try:
                text = line.decode(encoding)
            except UnicodeDecodeError:
                other = "gb18030" if encoding == "utf-8" else "utf-8"
                try:
                    text = line.decode(other)
                except UnicodeDecodeError:
                    yield ParseError(number, undecodable())
                    continue
                encoding = other
        if "\x00" in text:
            yield ParseError(number, _("a NUL byte (0x00): not a line of text"))
            continue
        yield number, text


class _OneLine:
    """Feeds a csv.reader one line at a time, so an unterminated quote spoils
    its own line only instead of swallowing the rest of the file."""

    __slots__ = ("line",)

    def __init__(self):
        self.line = None

    def __iter__(self):
        return self

    def __next__(self):
        line = self.line
        if line is None:
            raise StopIteration
        self.line = None
        return line


def iter_rows(fileobj) -> Iterator[tuple[int, list[str]] | ParseError]:
    """CSV rows (one per physical line) with their line numbers; blank lines
    are skipped, undecodable or malformed lines become ParseErrors."""
    feeder = _OneLine()
    reader = csv.reader(feeder, strict=True)
    for item in iter_lines(fileobj):
        if item.__class__ is ParseError:
            yield item
            continue
        number, text = item
        if not text or text.isspace():
            continue
        feeder.line = text
        try:
            row = next(reader)
        except csv.Error as error:
            yield ParseError(number, _("malformed CSV: %(error)s") % {"error": error})
            continue
        yield number, row


def undecodable() -> str:
    return _("undecodable bytes (neither UTF-8 nor GBK/GB18030)")


def content_key(row: Iterable[str]) -> str:
    """A stable identity for a row without a reliable id: a hash of its
    decoded fields (so a GBK and a UTF-8 export of one row agree)."""
    digest = hashlib.blake2b("\x1f".join(row).encode(), digest_size=16).hexdigest()
    return "row:" + digest


# ---------------------------------------------------------------- values


@lru_cache(maxsize=32)
def _zone(name: str) -> tzinfo:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


_OFFSETS: dict[tuple[tzinfo, str], timedelta] = {}


class TimeOutOfRange(ValueError):
    """A date and time outside the years DCC keeps (``dcc.timeutils.in_range``)."""


def parse_time(text: str, zone: tzinfo) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` (also ``/`` separators or 14 digits) written
    in ``zone`` → an aware datetime in UTC. ValueError when it is not one,
    or not within the years DCC keeps (``dcc.timeutils.in_range``)."""
    try:
        moment = _parse_time(text, zone)
    except OverflowError:
        raise TimeOutOfRange from None
    if not in_range(moment):
        raise TimeOutOfRange
    return moment


def _parse_time(text: str, zone: tzinfo) -> datetime:
    if len(text) == 19 and text[4] == "-":
        # The usual layout: see time_reader(), which imports use.
        key = (zone, text[:13])
        offset = _OFFSETS.get(key)
        if offset is None:
            if len(_OFFSETS) > 100_000:
                _OFFSETS.clear()
            offset = _OFFSETS[key] = zone.utcoffset(datetime.fromisoformat(text))
        return datetime.fromisoformat(text + "+00:00") - offset
    text = text.strip()
    if len(text) == 14 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:8]} {text[8:10]}:{text[10:12]}:{text[12:]}"
    elif "/" in text:
        text = text.replace("/", "-")
    if len(text) < 16:
        raise ValueError("not a date and time")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def time_reader(zone: tzinfo) -> Callable[[str], datetime]:
    """parse_time() for one zone, for a million rows: the zone's offset
    looked up once per hour of the clock, the time read as UTC and shifted
    (cheaper than replacing its tzinfo); other layouts by parse_time()."""
    offsets: dict[str, timedelta] = {}
    fromisoformat = datetime.fromisoformat
    earliest, latest = EARLIEST, LATEST

    def read(text: str) -> datetime:
        if len(text) == 19 and text[4] == "-":
            hour = text[:13]
            offset = offsets.get(hour)
            if offset is None:
                if len(offsets) > 100_000:
                    offsets.clear()
                offset = offsets[hour] = zone.utcoffset(fromisoformat(text))
            try:
                moment = fromisoformat(text + "+00:00") - offset
            except OverflowError:
                raise TimeOutOfRange from None
            if earliest <= moment < latest:
                return moment
            raise TimeOutOfRange
        return parse_time(text, zone)

    return read


# ---------------------------------------------------------------- phone numbers


def external_number(raw: str, config: SourceConfig, *, dialled: bool = False) -> str | None:
    """The customer's number in E.164, or None. ``dialled``: the number was
    dialled by an agent, so an outside-line prefix (``9``, ``0``…) may come
    first: the number without it is tried first, then as written (a trunk
    ``0`` before a mobile or area code is also removed by libphonenumber)."""
    raw = raw.strip()
    if not raw or raw.isalpha():  # "", "s", "anonymous", "unknown"…
        return None
    if dialled:
        for prefix in config.dial_prefixes:
            if raw.startswith(prefix) and len(raw) - len(prefix) >= 7:
                number = try_normalize_fast(raw[len(prefix) :], config.area_code)
                if number:
                    return number
    return try_normalize_fast(raw, config.area_code)


def channel_peer(channel: str) -> str:
    """``PJSIP/8001-0000002a`` → ``8001``; ``Local/8001@from-queue-00;1`` →
    ``8001``; ``SIP/trunk-ct-0001`` → ``trunk-ct``; ``""`` → ``""``."""
    if not channel:
        return ""
    _, _, name = channel.partition("/")
    if "@" in name:
        return name.partition("@")[0]
    return name.rpartition("-")[0] or name


def clid_number(clid: str) -> str:
    """``"王先生" <13812345678>`` → ``13812345678``."""
    start = clid.rfind("<")
    if start >= 0 and clid.endswith(">"):
        return clid[start + 1 : -1].strip()
    return clid.strip().strip('"')


def direction_and_parties(
    config: SourceConfig, src: str, dst: str, channel: str, dstchannel: str, clid: str = ""
) -> tuple[str, str | None, str]:
    """(direction, agent extension, the customer's raw number) of one leg.

    The side whose channel is an extension is ours (TELEPHONY.md): a call
    made on an extension's channel is outbound, or internal when the other
    side is an extension too (its channel, or the dialled number when it has
    no channel yet); a call made on any other channel (a trunk) is inbound and
    the agent is the destination channel's extension (or the dialled
    extension). Without channels, src/dst shapes decide.
    """
    low, high = config.extension_lengths  # config.is_extension(), inline
    caller = channel_peer(channel) if channel else src
    callee = channel_peer(dstchannel) if dstchannel else ""
    callee_is_ext = low <= len(callee) <= high and callee.isdigit()
    dst_is_ext = low <= len(dst) <= high and dst.isdigit()
    if low <= len(caller) <= high and caller.isdigit():
        if callee_is_ext or (not dstchannel and dst_is_ext):
            return INTERNAL, caller, ""
        return OUTBOUND, caller, dst
    if callee_is_ext:
        agent = callee
    elif dst_is_ext:
        agent = dst
    else:
        agent = None
    customer = src if src else clid_number(clid)
    return INBOUND, agent, customer


# ---------------------------------------------------------------- calls


def main_leg(legs: list[CallLeg]) -> CallLeg:
    for leg in legs:
        if leg.uniqueid and leg.uniqueid == leg.linkedid:
            return leg
    return legs[0]


def _union_seconds(spans: list[tuple[datetime, datetime]]) -> int:
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(spans):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return round(total)


def merge_legs(key: str, legs: list[CallLeg]) -> Call:
    """One call from its legs (already de-duplicated).

    Talk time: the legs' answered spans ``[answer, answer + billsec]`` with
    the customer (legs with an external number, or every leg of an internal
    call), merged where they overlap and summed, so a transfer adds both
    agents' parts while an attended transfer's consultation (agent to agent,
    customer on hold) or parallel ringing does not count twice.
    Direction, customer number: the main leg's (uniqueid == linkedid, else
    the earliest). Extension: the first answering leg's agent, else the main
    leg's; ``extensions`` lists every answering agent.
    """
    if len(legs) == 1:
        return _single_leg_call(key, legs)
    legs.sort(key=lambda leg: (leg.started_at, leg.line))
    main = main_leg(legs)
    answered = [leg for leg in legs if leg.answered]
    customer_legs = [leg for leg in answered if leg.external_raw] or answered
    spans = []
    for leg in customer_legs:
        start = leg.answered_at or (leg.ended_at - timedelta(seconds=leg.billsec))
        spans.append((start, start + timedelta(seconds=leg.billsec)))
    extensions = tuple(dict.fromkeys(leg.extension for leg in answered if leg.extension))
    started = legs[0].started_at
    ended = max(leg.ended_at for leg in legs)
    customer = main if main.external_raw else next((x for x in legs if x.external_raw), main)
    return Call(
        key=key,
        legs=legs,
        started_at=started,
        answered_at=min((leg.answered_at for leg in answered if leg.answered_at), default=None),
        ended_at=ended,
        duration=round((ended - started).total_seconds()),
        billsec=_union_seconds(spans),
        disposition=ANSWERED if answered else main.disposition,
        direction=main.direction,
        extension=extensions[0] if extensions else main.extension,
        extensions=extensions,
        external_number=customer.external_number,
        external_raw=customer.external_raw,
    )


def _single_leg_call(key: str, legs: list[CallLeg]) -> Call:
    """merge_legs() of one leg (most calls), without the general case's work."""
    (leg,) = legs
    started, ended = leg.started_at, leg.ended_at
    if leg.disposition == ANSWERED:
        extension = leg.extension
        extensions = (extension,) if extension else ()
        answered_at, billsec = leg.answered_at, leg.billsec
    else:
        extensions, answered_at, billsec = (), None, 0
    return Call(
        key,
        legs,
        started,
        answered_at,
        ended,
        round((ended - started).total_seconds()),
        billsec,
        leg.disposition,
        leg.direction,
        leg.extension,
        extensions,
        leg.external_number,
        leg.external_raw,
    )


def group_calls(legs: Iterable[CallLeg], *, window=timedelta(hours=6)) -> Iterator[Call]:
    """Merge legs sharing linkedid (else uniqueid, else the row's content key)
    into calls, streaming.

    Master.csv is written as legs end, so the legs of one call lie close
    together: a call is complete once the file has moved ``window`` away
    (either way: exports may run newest first) from its last leg's end.
    Duplicate lines (same :attr:`CallLeg.key`) are dropped. A leg arriving
    after its call was flushed makes a second Call with the same key; the
    importer merges by key.
    """
    # key → [last end, legs]; ``order``: the open calls in the order they began.
    open_calls: dict[str, list] = {}
    order: deque[tuple[str, list]] = deque()
    for leg in legs:
        key = leg.linkedid or leg.uniqueid or leg.key
        ended = leg.ended_at
        entry = open_calls.get(key)
        if entry is None:
            entry = open_calls[key] = [ended, [leg]]
            order.append((key, entry))
        else:
            call_legs = entry[1]
            leg_key = leg.key
            if all(other.key != leg_key for other in call_legs):
                call_legs.append(leg)
                if ended > entry[0]:
                    entry[0] = ended
        while abs(ended - order[0][1][0]) > window:
            oldest_key, (_, oldest_legs) = order.popleft()
            del open_calls[oldest_key]
            yield merge_legs(oldest_key, oldest_legs)
            if not order:
                break
    for key, (_, call_legs) in order:
        yield merge_legs(key, call_legs)


def only_records(items: Iterable, errors: list[ParseError]) -> Iterator:
    """The records of ``parse()``, the ParseErrors appended to ``errors``:
    ``group_calls(only_records(parse(f, config), errors))``."""
    for item in items:
        if isinstance(item, ParseError):
            errors.append(item)
        else:
            yield item


def parse(fileobj, config: SourceConfig) -> Iterator:
    """The records (or ParseErrors) of one file in ``config.format``."""
    if config.format == "asterisk_csv":
        from telephony.parsers import asterisk as module
    elif config.format == "freepbx_recordings":
        from telephony.parsers import freepbx_recordings as module
    else:
        from telephony.parsers import card_index as module
    return module.parse(fileobj, config)
