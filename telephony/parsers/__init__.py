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
# Call logs with a header row from the PBXs dealerships run (issue 15).
VENDOR_FORMATS = ("freepbx_web", "yeastar", "threecx", "freeswitch_csv")
FORMATS = ("asterisk_csv", "freepbx_recordings", "card_index", "named_files", *VENDOR_FORMATS)
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
    # The day, month and year order of a PBX's displayed dates (Yeastar's
    # display setting): "ymd", "dmy" or "mdy". A 4-digit first part is a year.
    date_order: str = "ymd"
    # named_files: the recorder's file-name pattern (or a preset's name).
    file_name_pattern: str = ""

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(
                _("Unknown call-log format %(format)s; known: %(known)s")
                % {"format": repr(self.format), "known": ", ".join(FORMATS)}
            )
        ZoneInfo(self.tz)  # fail on a misspelt zone now, not on the first row
        if self.date_order not in ("ymd", "dmy", "mdy"):
            raise ValueError(_("Unknown date order %(order)s") % {"order": repr(self.date_order)})
        if self.columns is not None:
            # A column map without a field the format needs is refused when
            # the source is saved, not by a server error on the first import.
            missing = [name for name in required_columns(self.format) if name not in self.columns]
            if missing:
                raise ValueError(
                    _("The column map lacks %(missing)s (the %(format)s format needs them)")
                    % {"missing": ", ".join(missing), "format": self.format}
                )

    @property
    def zone(self) -> tzinfo:
        return _zone(self.tz)

    def is_extension(self, text: str) -> bool:
        low, high = self.extension_lengths
        return low <= len(text) <= high and text.isdigit()


class FileRejected(ValueError):
    """The whole file cannot be read in this format (a wrong header, another
    product's export, an Excel file): one message for the file, never one
    per line nor "done, 0 imported"."""


def required_columns(format: str) -> tuple[str, ...]:
    """The fields a column map of ``format`` must name (formats read from a
    header row name their columns themselves: none)."""
    if format == "asterisk_csv":
        from telephony.parsers.asterisk import REQUIRED
    elif format == "freeswitch_csv":
        from telephony.parsers.freeswitch_csv import REQUIRED
    elif format == "threecx":
        from telephony.parsers.threecx import CDR_REQUIRED as REQUIRED
    elif format == "card_index":
        from telephony.parsers.card_index import REQUIRED
    else:
        REQUIRED = ()
    return REQUIRED


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
    # The dialplan application the leg ended in and its arguments
    # (``Dial``/``PJSIP/8001,30``, ``Queue``/``400,t``, ``VoiceMail``…): who
    # answered (leg_answerer). A recording card's legs say ``Card``.
    lastapp: str = ""
    lastdata: str = ""

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
    # AGENT, SYSTEM or NONE (leg_answerer): who answered the call.
    answered_by: str = "none"
    # From the first leg that rang a phone to the agent's answer (agent only).
    ring_seconds: int | None = None
    # From the call's start to the agent's answer, else to the hang-up.
    wait_seconds: int | None = None
    # Every extension that rang, in order (a missed call keeps them).
    rang_extensions: tuple[str, ...] = ()
    # The queue the call went through (Queue's first argument), or "".
    queue: str = ""

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


def external_number(
    raw: str, config: SourceConfig, *, dialled: bool = False, seen: dict | None = None
) -> str | None:
    """The customer's number in E.164, or None. ``dialled``: the number was
    dialled by an agent, so an outside-line prefix (``9``, ``0``…) may come
    first: the number without it is tried first, then as written (a trunk
    ``0`` before a mobile or area code is also removed by libphonenumber).
    ``seen``: a file's numbers normalised so far (each distinct number once
    per file: a million lines are a few hundred thousand numbers)."""
    if seen is None:
        return _external_number(raw, config, dialled)
    e164 = seen.get((raw, dialled), False)
    if e164 is False:
        e164 = seen[raw, dialled] = _external_number(raw, config, dialled)
    return e164


def _external_number(raw: str, config: SourceConfig, dialled: bool) -> str | None:
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


# Who answered (TELEPHONY.md "Who answered"). A leg is answered by a person
# when it is ANSWERED and bridged to a phone: its dstchannel is set (an
# extension's channel, a queue, ring-group or follow-me member's Local
# channel, or a trunk to the number the call was forwarded to, or, on an
# outbound call, to the customer) and it did not end in one of the PBX's own
# applications. Legs the PBX answered itself (IVR, voicemail, queue hold,
# playback, hang-up, conference) have no dstchannel or end in one of these.
AGENT, SYSTEM, NONE = "agent", "system", "none"
SYSTEM_APPS = frozenset(
    {
        "answer",
        "background",
        "playback",
        "read",
        "voicemail",
        "voicemailmain",
        "vm",
        "hangup",
        "confbridge",
        "meetme",
        "musiconhold",
        "wait",
        "waitexten",
        "saydigits",
        "saynumber",
        "record",
        "directory",
        "agi",
        "macro",
        "gosub",
        "goto",
        "noop",
        "ringing",
        "progress",
        "playtones",
        "congestion",
        "busy",
    }
)
CARD = "Card"  # lastapp of a leg made from a recording card's index


def leg_rings_phone(leg: CallLeg) -> bool:
    """The leg rang a phone (an extension, a member of a queue or ring
    group, a number the call was forwarded to): a Dial, Queue, FollowMe…
    with a channel at the other end; not an application of the PBX. A card's
    legs rang the agent's line."""
    app = leg.lastapp
    if app == CARD:
        return True
    dstchannel = leg.dstchannel
    if not dstchannel or (app and app.lower() in SYSTEM_APPS):
        return False
    if not dstchannel.startswith("Local/"):
        return True
    # A voicemail box reached through a Local channel (vmu8001, vmb8001).
    peer = channel_peer(dstchannel)
    return not (peer[:3] in ("vmu", "vmb", "vms") or (peer[:2] == "vm" and peer[2:].isdigit()))


def leg_answerer(leg: CallLeg) -> str:
    """AGENT, SYSTEM or NONE: who answered this one leg."""
    if leg.disposition != ANSWERED:
        return NONE
    return AGENT if leg_rings_phone(leg) else SYSTEM


def _dialled_extensions(leg: CallLeg) -> list[str]:
    """The extensions a Dial's arguments name (``PJSIP/8003&PJSIP/8004,30``):
    a parallel dial written as one CDR still rang them all."""
    data = leg.lastdata
    if "&" not in data or leg.lastapp.lower() != "dial":
        return []  # one target: the leg's own dstchannel says it
    targets = data.partition(",")[0]
    found = []
    for target in targets.split("&"):
        _, _, name = target.partition("/")
        peer = name.partition("@")[0] if "@" in name else name
        if peer.isdigit() and 2 <= len(peer) <= 6:
            found.append(peer)
    return found


def _queue_name(leg: CallLeg) -> str:
    if leg.lastapp.lower() == "queue" and leg.lastdata:
        return leg.lastdata.partition(",")[0][:40]
    return ""


def _leg_extension(leg: CallLeg) -> str | None:
    """The agent's extension on a ringing leg: on an inbound leg the
    dstchannel's when it is a phone or a member's Local channel; else the
    leg's own agent side (the caller's extension on an outbound call)."""
    if leg.direction == INBOUND and leg.dstchannel:
        peer = channel_peer(leg.dstchannel)
        if peer.isdigit() and 2 <= len(peer) <= 6:
            return peer
    return leg.extension


def _seconds_between(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds()))


def merge_legs(key: str, legs: list[CallLeg]) -> Call:
    """One call from its legs (already de-duplicated).

    Who answered: AGENT when a leg to a phone was answered (leg_answerer),
    SYSTEM when only the PBX's applications answered, NONE otherwise.
    Ring: from the first leg that rang a phone to the agent's answer; wait:
    from the call's start to the agent's answer, else to the hang-up.
    Talk time (billsec): the agents' answered spans ``[answer, answer +
    billsec]`` with the customer (legs with an external number, or every
    agent leg of an internal call), merged where they overlap and summed, so
    a transfer adds both agents' parts while an attended transfer's
    consultation (agent to agent, customer on hold) or parallel ringing does
    not count twice; voicemail and IVR seconds are no one's talk.
    Direction, customer number: the main leg's (uniqueid == linkedid, else
    the earliest). Extension: the first answering agent's; else, on a call
    no agent answered, the first extension that rang (not on a queue call:
    the queue is recorded, not an extension); ``extensions`` lists every
    answering agent, ``rang_extensions`` every extension that rang.
    """
    if len(legs) == 1:
        return _single_leg_call(key, legs)
    legs.sort(key=lambda leg: (leg.started_at, leg.line))
    main = main_leg(legs)
    ringing = [leg for leg in legs if leg_rings_phone(leg)]
    # The legs with the customer on them (else, on an internal call, all):
    # a click-to-call first rings the agent's own phone (a Local channel's
    # half), then the customer, whose answer connects the call.
    talking = [leg for leg in ringing if leg.external_raw] or ringing
    answered = [leg for leg in talking if leg.disposition == ANSWERED]
    if answered:
        answered_by = AGENT
    elif any(leg.disposition == ANSWERED for leg in legs):
        answered_by = SYSTEM
    else:
        answered_by = NONE
    spans = []
    for leg in answered:
        start = leg.answered_at or (leg.ended_at - timedelta(seconds=leg.billsec))
        spans.append((start, start + timedelta(seconds=leg.billsec)))
    agents = [leg for leg in ringing if leg.disposition == ANSWERED] if answered else []
    extensions = tuple(dict.fromkeys(ext for ext in (_leg_extension(leg) for leg in agents) if ext))
    rang = []
    for leg in ringing:
        rang.extend(_dialled_extensions(leg))
        ext = _leg_extension(leg)
        if ext:
            rang.append(ext)
    rang_extensions = tuple(dict.fromkeys(rang))
    queue = next((name for name in map(_queue_name, legs) if name), "")
    started = legs[0].started_at
    ended = max(leg.ended_at for leg in legs)
    agent_answer = min((leg.answered_at for leg in answered if leg.answered_at), default=None)
    if agent_answer is not None:
        first_ring = min(leg.started_at for leg in talking)
        ring_seconds = _seconds_between(first_ring, agent_answer)
        wait_seconds = _seconds_between(started, agent_answer)
    else:
        ring_seconds = None
        wait_seconds = _seconds_between(started, ended)
    if extensions:
        extension = extensions[0]
    elif queue:
        extension = None
    elif rang_extensions:
        extension = rang_extensions[0]
    elif main.direction == INBOUND and answered_by == SYSTEM:
        extension = None  # only the PBX answered: no agent's extension
    else:
        extension = main.extension
    customer = main if main.external_raw else next((x for x in legs if x.external_raw), main)
    any_answer = min(
        (leg.answered_at for leg in legs if leg.answered and leg.answered_at), default=None
    )
    return Call(
        key=key,
        legs=legs,
        started_at=started,
        answered_at=agent_answer or any_answer,
        ended_at=ended,
        duration=_seconds_between(started, ended),
        billsec=_union_seconds(spans),
        disposition=ANSWERED if any(leg.answered for leg in legs) else main.disposition,
        direction=main.direction,
        extension=extension,
        extensions=extensions,
        external_number=customer.external_number,
        external_raw=customer.external_raw,
        answered_by=answered_by,
        ring_seconds=ring_seconds,
        wait_seconds=wait_seconds,
        rang_extensions=rang_extensions,
        queue=queue,
    )


def _single_leg_call(key: str, legs: list[CallLeg]) -> Call:
    """merge_legs() of one leg (most calls), without the general case's work."""
    (leg,) = legs
    started, ended = leg.started_at, leg.ended_at
    rings = leg_rings_phone(leg)
    extension = leg.extension
    queue = _queue_name(leg) if leg.lastapp else ""
    if rings:
        dialled = _dialled_extensions(leg)
        ext = _leg_extension(leg)
        if ext and ext not in dialled:
            dialled.append(ext)
        rang = tuple(dialled)
        extension = ext
    else:
        rang = ()
        if leg.disposition == ANSWERED and leg.direction == INBOUND:
            extension = None  # only the PBX answered: no agent's extension
    if leg.disposition == ANSWERED:
        answered_at = leg.answered_at
        if rings:
            answered_by = AGENT
            extensions = (extension,) if extension else ()
            billsec = leg.billsec
            waited = _seconds_between(started, answered_at) if answered_at else 0
            ring = waited
            if leg.lastapp == CARD:  # a recording card knows no ring time
                ring = waited = None
        else:
            answered_by, extensions, billsec, ring = SYSTEM, (), 0, None
            waited = _seconds_between(started, ended)
    else:
        answered_by, extensions, answered_at, billsec, ring = NONE, (), None, 0, None
        waited = _seconds_between(started, ended)
    if queue and answered_by != AGENT:
        extension = None
    return Call(
        key,
        legs,
        started,
        answered_at,
        ended,
        _seconds_between(started, ended),
        billsec,
        leg.disposition,
        leg.direction,
        extension,
        extensions,
        leg.external_number,
        leg.external_raw,
        answered_by,
        ring,
        waited,
        rang,
        queue,
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
    if config.format == "named_files":
        from telephony.parsers import named_files

        return named_files.parse(fileobj, config, config.file_name_pattern)
    if config.format in VENDOR_FORMATS:
        from importlib import import_module

        module = import_module(f"telephony.parsers.{config.format}")
    elif config.format == "asterisk_csv":
        from telephony.parsers import asterisk as module
    elif config.format == "freepbx_recordings":
        from telephony.parsers import freepbx_recordings as module
    else:
        from telephony.parsers import card_index as module
    return module.parse(fileobj, config)
